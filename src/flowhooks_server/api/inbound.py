"""InboundService servicer (SPEC §6): `POST /api/v2/event`, `POST|GET /api/v2/callback` and
`POST /api/v2/webhook`. Envoy hands over the raw body and its content type in the HttpBody
field, query parameters in the other fields, and the HTTP headers as gRPC metadata."""

from __future__ import annotations

import base64
import json

from flowhooks.v1 import inbound_pb2, inbound_pb2_grpc
from google.api import httpbody_pb2
from google.protobuf import empty_pb2

from flowhooks_server.api.context import current
from flowhooks_server.api.run_convert import run_json, run_out
from flowhooks_server.domain import json_doc
from flowhooks_server.domain.inbound import cloudevents, sender_of
from flowhooks_server.services.inbound import Inbound, WebhookOutcome, request_headers

JSON = "application/json"


class InboundServicer(inbound_pb2_grpc.InboundServiceServicer):
    def __init__(self, inbound: Inbound):
        self._inbound = inbound

    async def AcceptEvent(self, request, context):
        ctx = current()
        headers = request_headers(ctx.metadata, request.body.content_type)
        events = cloudevents.parse_http(headers, request.body.data)
        accepted = await self._inbound.accept_events(
            ctx.require_tenant(), request.ref or request.workflow, events)
        return _accepted_out(accepted)

    async def AcceptCloudEvent(self, request, context):
        structured = json.dumps(_cloudevent_json(request.event)).encode("utf-8")
        events = cloudevents.parse_http({"content-type": cloudevents.STRUCTURED}, structured)
        accepted = await self._inbound.accept_events(current().require_tenant(), request.ref,
                                                     events)
        return _accepted_out(accepted)

    async def Callback(self, request, context):
        await self._inbound.callback(current().require_tenant(),
                                     request.ref or request.workflowrun, request.topic,
                                     request.status, request.body.data)
        return empty_pb2.Empty()

    async def AcceptWebhook(self, request, context):
        ctx = current()
        headers = request_headers(ctx.metadata, request.body.content_type)
        ref, body = request.ref or request.workflow, request.body.data
        sender = sender_of(headers)
        if sender == "slack":
            outcome = await self._inbound.slack_webhook(ref, headers, body)
        elif sender == "github":
            outcome = await self._inbound.github_webhook(ref, headers, body)
        else:
            outcome = await self._inbound.plain_webhook(
                ctx.principal, ctx.metadata.get("x-org-id"), ref, headers, body)
        return _webhook_out(outcome)


def _accepted_out(accepted) -> inbound_pb2.AcceptEventResponse:
    return inbound_pb2.AcceptEventResponse(
        event_id=accepted.event_ids[0] if accepted.event_ids else "",
        workflow_runs=[run_out(view) for view in accepted.runs],
        event_ids=accepted.event_ids)


def _webhook_out(outcome: WebhookOutcome) -> httpbody_pb2.HttpBody:
    document = run_json(outcome.run) if outcome.run is not None else outcome.answer
    return httpbody_pb2.HttpBody(content_type=JSON, data=json_doc.dumps(document))


def _cloudevent_json(event) -> dict:
    """A protobuf CloudEvent in the JSON format, so one parser validates both. Empty required
    attributes are left out, so the error names them."""
    out: dict = {}
    for name, value in (("id", event.id), ("source", event.source),
                        ("specversion", event.spec_version), ("type", event.type)):
        if value:
            out[name] = value
    for name, value in event.attributes.items():
        out[name] = _attribute_json(value)
    kind = event.WhichOneof("data")
    if kind == "binary_data":
        out["data_base64"] = base64.b64encode(event.binary_data).decode("ascii")
    elif kind == "text_data":
        media = str(out.get("datacontenttype", "")).split(";")[0].strip().lower()
        out["data"] = event.text_data
        if media in ("", JSON, "text/json") or media.endswith("+json"):
            out["data"] = json_doc.loads(event.text_data, "event.textData")
    elif kind == "proto_data":
        out.setdefault("datacontenttype", "application/protobuf")
        out.setdefault("dataschema", event.proto_data.type_url)
        out["data_base64"] = base64.b64encode(event.proto_data.value).decode("ascii")
    return out


def _attribute_json(value):
    kind = value.WhichOneof("attr")
    if kind == "ce_bytes":
        return base64.b64encode(value.ce_bytes).decode("ascii")
    if kind == "ce_timestamp":
        return value.ce_timestamp.ToJsonString()
    if kind is None:
        return ""
    return getattr(value, kind)
