"""What a delivery sends (SPEC §8): the ELAN envelope or a structured CloudEvent, and the
headers that go with it, Standard Webhooks signatures included (keys and rotation: see
`flowhooks_server.domain.signing`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cloudevents.core.bindings.http import to_structured_event
from cloudevents.core.v1.event import CloudEvent

from flowhooks_server import __version__
from flowhooks_server.domain import json_doc
from flowhooks_server.domain.signing import hex_signature, standard_signature
from flowhooks_server.domain.webhooks import header_refusals

USER_AGENT = f"flowhooks/{__version__}"
JSON = "application/json"
CLOUDEVENTS_JSON = "application/cloudevents+json"


@dataclass(frozen=True)
class EventView:
    """The parts of a stored event a payload is made of."""

    id: str
    type: str
    tenant_id: str
    workflow_id: str | None
    created_at: datetime
    data: dict[str, Any]


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def render_body(event: EventView, fmt: str) -> tuple[bytes, str]:
    """The body bytes and their content type."""
    if fmt == "cloudevents":
        attributes: dict[str, Any] = {
            "specversion": "1.0", "id": event.id, "type": event.type,
            "source": f"/flowhooks/{event.tenant_id}", "time": event.created_at,
            "datacontenttype": JSON}
        if event.workflow_id:
            attributes["subject"] = event.workflow_id
        message = to_structured_event(CloudEvent(attributes, event.data))
        return message.body, CLOUDEVENTS_JSON
    return json_doc.dumps({
        "event_id": event.id, "event_type": event.type, "workflow_id": event.workflow_id or "",
        "organization_id": event.tenant_id, "timestamp": rfc3339(event.created_at),
        "data": event.data,
    }), JSON


def delivery_headers(*, msg_id: str, timestamp: int, body: bytes, content_type: str,
                     custom: Mapping[str, Sequence[str]],
                     secrets: Sequence[str]) -> list[tuple[str, str]]:
    """Every header of an attempt. `secrets` holds the current secret first, then, during a
    rotation's grace, the previous one (`SecretState.signing`): `webhook-signature` carries a
    signature of each, space-separated, and `X-Webhook-Signature` the current one's. Every
    webhook has a secret; should `secrets` be empty all the same, nothing is signed."""
    # Custom headers stored before today's rules (SPEC §7) are dropped, never sent: a framing
    # header would contradict the body, a control character would split the request.
    headers = [(name, value) for name, values in custom.items()
               if not header_refusals(name, tuple(values)) for value in values]
    headers += [("Content-Type", content_type), ("User-Agent", USER_AGENT),
                ("webhook-id", msg_id), ("webhook-timestamp", str(timestamp))]
    if secrets:
        headers.append(("webhook-signature", " ".join(
            standard_signature(s, msg_id, timestamp, body) for s in secrets)))
        headers.append(("X-Webhook-Signature", hex_signature(secrets[0], body)))
    return headers
