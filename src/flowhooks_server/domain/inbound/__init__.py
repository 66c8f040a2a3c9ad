"""Inbound requests, parsed and verified, with no I/O (SPEC §6):

    senders       which verifier a `POST /api/v2/webhook` needs: slack, github or plain
    cloudevents   `POST /api/v2/event`: structured, batch and binary CloudEvents 1.0
    github        X-Hub-Signature-256, ping, the events[] filter, X-GitHub-Delivery dedupe
    slack         v0 signatures in a 300 s window, url_verification, event_callback, shortcut
    plain         a JSON body and its Idempotency-Key
    http          the shared HTTP shapes: case-insensitive headers, media types, strict JSON
    decisions     a request and its trigger -> start a run (with its dedupe key) or answer
    callback      `POST|GET /api/v2/callback`: run, topic, status and a JSON object body

Every function takes headers (any capitalisation) and the raw body bytes; bad input raises
`InvalidArgument` naming the field, a bad signature `Unauthenticated`.
"""

from flowhooks_server.domain.inbound.senders import Sender, sender_of

__all__ = ["Sender", "sender_of"]
