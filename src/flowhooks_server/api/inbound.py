"""InboundService servicer (SPEC §6): `POST /api/v2/event`, `POST|GET /api/v2/callback` and
`POST /api/v2/webhook`. Envoy hands over the raw body and its content type in the HttpBody
field, query parameters in the other fields, and the HTTP headers as gRPC metadata.

Parsing, verifying and deciding are the use cases' (`services.inbound`); what is left here is
translation: metadata to headers, and the CloudEvents protobuf format to its JSON format
(`_cloudevent_json`), checked where the protobuf types are still known."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from flowhooks.v1 import inbound_pb2, inbound_pb2_grpc
from google.api import httpbody_pb2
from google.protobuf import empty_pb2

from flowhooks_server.api.context import current
from flowhooks_server.api.run_convert import run_json, run_out
from flowhooks_server.domain import json_doc
from flowhooks_server.domain.errors import InvalidArgument
from flowhooks_server.domain.inbound import cloudevents
from flowhooks_server.domain.inbound.http import JSON, lower_headers
from flowhooks_server.services.inbound import AcceptedEvents, Inbound, WebhookOutcome


class InboundServicer(inbound_pb2_grpc.InboundServiceServicer):
    """Each RPC turns its message and metadata into plain values and calls one use case."""

    def __init__(self, inbound: Inbound):
        self._inbound = inbound

    async def AcceptEvent(self, request, context):
        ctx = current()
        accepted = await self._inbound.accept_http_events(
            ctx.require_tenant(), request.ref or request.workflow,
            request_headers(ctx.metadata, request.body.content_type), request.body.data)
        return _accepted_out(accepted)

    async def AcceptCloudEvent(self, request, context):
        accepted = await self._inbound.accept_cloudevent(
            current().require_tenant(), request.ref, _cloudevent_json(request.event))
        return _accepted_out(accepted)

    async def Callback(self, request, context):
        await self._inbound.callback(current().require_tenant(),
                                     request.ref or request.workflowrun, request.topic,
                                     request.status, request.body.data)
        return empty_pb2.Empty()

    async def AcceptWebhook(self, request, context):
        ctx = current()
        outcome = await self._inbound.webhook(
            ctx.principal, ctx.metadata.get("x-org-id"), request.ref or request.workflow,
            request_headers(ctx.metadata, request.body.content_type), request.body.data)
        return _webhook_out(outcome)


def request_headers(metadata: Mapping[str, str], content_type: str) -> dict[str, str]:
    """The HTTP headers of a transcoded request: Envoy passes them as gRPC metadata, but the
    content type of the body travels in the HttpBody (the metadata's is application/grpc)."""
    headers = lower_headers(metadata)
    headers["content-type"] = content_type
    return headers


def _accepted_out(accepted: AcceptedEvents) -> inbound_pb2.AcceptEventResponse:
    return inbound_pb2.AcceptEventResponse(
        event_id=accepted.event_ids[0] if accepted.event_ids else "",
        workflow_runs=[run_out(view) for view in accepted.runs],
        event_ids=accepted.event_ids)


def _webhook_out(outcome: WebhookOutcome) -> httpbody_pb2.HttpBody:
    document = run_json(outcome.run) if outcome.run is not None else outcome.answer
    return httpbody_pb2.HttpBody(content_type=JSON, data=json_doc.dumps(document))


# The kinds of CloudEventAttributeValue each optional core attribute may use: its own type, or
# (for the non-String ones) the canonical string encoding the type system allows.
_CORE_KINDS = {
    "subject": ("ce_string",),
    "datacontenttype": ("ce_string",),
    "dataschema": ("ce_uri", "ce_string"),
    "time": ("ce_timestamp", "ce_string"),
}
_REQUIRED_FIELDS = {"id": "id", "source": "source", "specversion": "spec_version",
                    "type": "type"}


def _cloudevent_json(event: Any) -> dict[str, Any]:
    """A CloudEvent in the CloudEvents protobuf format, rewritten in the JSON format, so that
    `cloudevents.from_json` checks both by the same rules. Empty required fields are left out,
    so the error names them; an attribute whose value has no kind set is absent, as a JSON
    `null` is. Attribute names, the kinds of the core attributes and URI values are checked
    here, where the protobuf types are still known."""
    out: dict[str, Any] = {}
    for name, proto_field in _REQUIRED_FIELDS.items():
        if getattr(event, proto_field):
            out[name] = getattr(event, proto_field)
    problems = []
    for name, value in event.attributes.items():
        kind = value.WhichOneof("attr")
        problem = cloudevents.attribute_name_problem(name)
        if problem:
            problems.append((name or "attributes", problem))
        elif name in _REQUIRED_FIELDS:
            problems.append((name, f"is the CloudEvent's own field {_REQUIRED_FIELDS[name]}, "
                                   "not an entry of attributes"))
        elif kind is None:
            continue
        elif kind not in _CORE_KINDS.get(name, (kind,)):
            problems.append((name, f"must be {cloudevents.CORE_TYPES[name]}: set "
                                   f"{' or '.join(_CORE_KINDS[name])}, not {kind}"))
        else:
            try:
                out[name] = _attribute_json(value, kind)
            except ValueError as exc:
                problems.append((name, str(exc)))
    if problems:
        raise InvalidArgument(problems)
    data = event.WhichOneof("data")
    if data == "binary_data":
        out["data_base64"] = base64.b64encode(event.binary_data).decode("ascii")
    elif data == "text_data":
        content_type = out.get("datacontenttype")
        if cloudevents.declares_json(content_type if isinstance(content_type, str) else None):
            out["data"] = json_doc.loads(event.text_data, "event.textData")
        else:
            json_doc.check(event.text_data, "event.textData")
            out["data"] = event.text_data
    elif data == "proto_data":
        # Protobuf format §3: datacontenttype MAY be application/protobuf, and dataschema
        # SHOULD be the type URL (absolute: a type URL without a scheme means https).
        out.setdefault("datacontenttype", "application/protobuf")
        type_url = event.proto_data.type_url
        if type_url:
            out.setdefault("dataschema", type_url if cloudevents.is_uri(type_url)
                           else "https://" + type_url)
        out["data_base64"] = base64.b64encode(event.proto_data.value).decode("ascii")
    return out


def _attribute_json(value: Any, kind: str) -> Any:
    """One attribute value in the JSON format's type mapping (JSON format §2.2)."""
    if kind == "ce_bytes":
        return base64.b64encode(value.ce_bytes).decode("ascii")
    if kind == "ce_timestamp":
        try:
            return value.ce_timestamp.ToJsonString()
        except ValueError:
            raise ValueError("is not a valid Timestamp (out of the RFC 3339 range)") from None
    text = getattr(value, kind)
    if kind == "ce_uri" and not cloudevents.is_uri(text):
        raise ValueError("must be an absolute URI (RFC 3986), as ce_uri says")
    if kind == "ce_uri_ref" and not cloudevents.is_uri_reference(text):
        raise ValueError("must be a URI-reference (RFC 3986), as ce_uri_ref says")
    return text
