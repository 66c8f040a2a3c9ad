"""CloudEvents conformance of `POST /api/v2/event` end to end (SPEC §6 "Conformance"), through
Envoy on both databases, and of the native gRPC `AcceptCloudEvent` (protobuf format): the
CloudEvents 1.0 spec, its JSON event format and its HTTP protocol binding, as the conformance
suite (cloudevents/conformance) and the spec's examples state them.

An accepted event answers 200 and its run's stored `params.event` is the event in the JSON
format (read back with GET /api/v2/workflowruns/{id}); a refused one answers 400 naming the
attribute and the rule (never a Python type) and creates nothing. Requests are sent as a sender
writes them: aiohttp's automatic `Content-Type: application/octet-stream` is switched off, so
a request without `Content-Type` really has none."""

from __future__ import annotations

import base64
import json
import uuid

import grpc
import pytest
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent
from flowhooks.v1 import cloudevent_pb2, inbound_pb2, inbound_pb2_grpc
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from inbound_client import get_run, make_workflow, org, runs_of
from tenancy import field_violations

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
PYTHON_TALK = ("<class", "NoneType", "Attribute '", "pydantic", "Traceback")


def ce(**headers) -> dict:
    """Binary-mode headers of a fresh event; `ce_subject=...` adds `ce-subject`."""
    base = {"ce-specversion": "1.0", "ce-id": "bin-" + uuid.uuid4().hex,
            "ce-source": "/conformance", "ce-type": "com.example.conformance"}
    return {**base, **{name.replace("_", "-"): value for name, value in headers.items()}}


def event(**members) -> dict:
    """A structured-mode event (JSON format) with fresh id; a None member is a JSON null."""
    return {"specversion": "1.0", "id": "st-" + uuid.uuid4().hex, "source": "/conformance",
            "type": "com.example.conformance", **members}


async def send(rest, tenant, ref: str, headers: dict, body: bytes):
    hdrs = {"Authorization": f"Bearer {tenant.token}", **org(tenant), **headers}
    async with rest.session.post(f"{rest.base}/api/v2/event?ref={ref}", data=body,
                                 headers=hdrs, skip_auto_headers=["Content-Type"]) as resp:
        raw = await resp.read()
        return resp.status, json.loads(raw) if raw else None


async def accepted(rest, tenant, headers: dict, body: bytes) -> tuple[dict, dict]:
    """Send one event to a fresh event-triggered workflow; the answer and the stored run."""
    workflow_id = await make_workflow(rest, tenant, event={"enabled": True})
    status, answer = await send(rest, tenant, workflow_id, headers, body)
    assert status == 200, answer
    [run] = answer["workflowRuns"]
    stored = await get_run(rest, tenant, run["id"])
    assert stored["workflowRef"] == workflow_id and stored["trigger"] == "event"
    return answer, stored["params"]


async def refused(rest, tenant, headers: dict, body: bytes, field: str) -> str:
    """Send to a fresh workflow, expect 400 naming `field`, and that no run was created."""
    workflow_id = await make_workflow(rest, tenant, event={"enabled": True})
    status, answer = await send(rest, tenant, workflow_id, headers, body)
    assert status == 400, answer
    violations = field_violations(answer)
    assert field in violations, answer
    assert not any(word in json.dumps(answer) for word in PYTHON_TALK), answer
    assert await runs_of(rest, tenant, workflow_id) == []
    return violations[field]


# -- what users saw ---------------------------------------------------------------------------


async def test_binary_mode_without_content_type_is_valid(rest, tenant):
    headers = ce()
    _, params = await accepted(rest, tenant, headers, b"\x00\x01 raw bytes")
    stored = params["event"]
    assert "datacontenttype" not in stored and "data" not in stored
    assert base64.b64decode(stored["data_base64"]) == b"\x00\x01 raw bytes"
    assert stored["id"] == headers["ce-id"] and stored["source"] == "/conformance"


async def test_binary_mode_without_content_type_assumes_no_json(rest, tenant):
    # JSON format §3.2, last example: a JSON-looking body without Content-Type is binary data.
    _, params = await accepted(rest, tenant, ce(), b'{ "xyz": 123 }')
    assert params["event"]["data_base64"] == "eyAieHl6IjogMTIzIH0="


@pytest.mark.parametrize("name", ["subject", "time", "dataschema", "datacontenttype",
                                  "myextension", "data_base64"])
async def test_optional_attribute_given_as_null_is_absent(rest, tenant, name):
    document = event(**{name: None}, data={"n": 1})
    _, params = await accepted(rest, tenant, {"Content-Type": STRUCTURED},
                               json.dumps(document).encode())
    expected = {k: v for k, v in document.items() if v is not None}
    assert params["event"] == expected


async def test_empty_batch_is_valid(rest, tenant):
    workflow_id = await make_workflow(rest, tenant, event={"enabled": True})
    status, answer = await send(rest, tenant, workflow_id, {"Content-Type": BATCH}, b"[]")
    assert status == 200, answer
    # Envoy prints every field of AcceptEventResponse: an empty batch has no first event id.
    assert answer == {"eventId": "", "workflowRuns": [], "eventIds": []}
    assert await runs_of(rest, tenant, workflow_id) == []


@pytest.mark.parametrize("subject", ["a%C0%A0b", "%FF", "%ED%A0%80", "%E2%82"])
async def test_header_that_is_not_utf8_once_decoded_is_refused(rest, tenant, subject):
    description = await refused(rest, tenant, ce(ce_subject=subject), b"", "subject")
    assert "UTF-8" in description and "ce-subject" in description


# -- the conformance suite and the spec's examples --------------------------------------------


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
async def test_conformance_binary_content_mode(rest, tenant, content_type):
    headers = {"ce-specversion": "1.0", "ce-type": "com.example.someevent",
               "ce-time": "2018-04-05T03:56:24Z", "ce-id": "1234-" + uuid.uuid4().hex,
               "ce-source": "/mycontext/subcontext", "Content-Type": content_type}
    _, params = await accepted(rest, tenant, headers, b'{\n  "message": "Hello World!"\n}\n')
    assert params["event"] == {
        "id": headers["ce-id"], "specversion": "1.0", "type": "com.example.someevent",
        "source": "/mycontext/subcontext", "time": "2018-04-05T03:56:24Z",
        "datacontenttype": content_type, "data": {"message": "Hello World!"}}
    assert params["data"] == {"message": "Hello World!"}


@pytest.mark.parametrize("content_type", [STRUCTURED, STRUCTURED + "; charset=utf-8",
                                          "Application/CloudEvents+JSON; charset=UTF-8"])
async def test_conformance_structured_content_mode(rest, tenant, content_type):
    document = event(time="2018-04-05T03:56:24Z", datacontenttype="application/json",
                     data={"message": "Hello World!"})
    _, params = await accepted(rest, tenant, {"Content-Type": content_type},
                               json.dumps(document).encode())
    assert params["event"] == document


async def test_conformance_v1_extensions_binary_and_structured(rest, tenant):
    headers = ce(ce_comexampleextension1="value",
                 ce_comexampleextension2="%7B%22othervalue%22%3A%205%7D",
                 content_type="application/json")
    headers["User-Agent"] = "foo"
    _, params = await accepted(rest, tenant, headers, b'{"world":"hello"}')
    assert params["event"]["comexampleextension1"] == "value"
    assert params["event"]["comexampleextension2"] == '{"othervalue": 5}'
    document = event(comexampleextension1="value", comexampleothervalue=5,
                     comexampleflag=True, data={"world": "hello"})
    _, params = await accepted(rest, tenant, {"Content-Type": STRUCTURED},
                               json.dumps(document).encode())
    assert params["event"] == document  # extension Integer and Boolean keep their JSON type


@pytest.mark.parametrize(("content_type", "body", "stored"), [
    ("text/plain; charset=us-ascii", b"Hello, World!\n", {"data": "Hello, World!\n"}),
    ("text/plain; charset=utf-8", "Hello, 🌎!\n".encode(), {"data": "Hello, 🌎!\n"}),
    ("application/json; charset=utf-8", '"Hello, 🌎!"'.encode(), {"data": "Hello, 🌎!"}),
    ("application/json; charset=utf-8", b'["Hello","x"]', {"data": ["Hello", "x"]}),
    ("application/xml; charset=utf-8", b"<msg>Hello</msg>", {"data": "<msg>Hello</msg>"}),
    ("application/octet-stream", b"\x00\xff", {"data_base64": "AP8="}),
])
async def test_conformance_minimum_events_in_binary_mode(rest, tenant, content_type, body,
                                                         stored):
    _, params = await accepted(rest, tenant, ce(content_type=content_type), body)
    assert params["event"]["datacontenttype"] == content_type
    assert {k: v for k, v in params["event"].items() if k.startswith("data_") or k == "data"} \
        == stored


@pytest.mark.parametrize("data", [{"a": 1, "b": {"c": [True]}}, [1, "two"], "just a string",
                                  1.5, 7, None, True])
async def test_structured_json_data_is_any_json_value(rest, tenant, data):
    document = event(datacontenttype="application/json", data=data)
    _, params = await accepted(rest, tenant, {"Content-Type": STRUCTURED},
                               json.dumps(document).encode())
    assert params["event"] == document  # `"data": null` stays an explicit null payload
    assert params["data"] == data


async def test_structured_non_json_data_and_data_base64(rest, tenant):
    document = event(datacontenttype="application/xml", data='<much wow="xml"/>')
    _, params = await accepted(rest, tenant, {"Content-Type": STRUCTURED},
                               json.dumps(document).encode())
    assert params["event"] == document
    document = event(datacontenttype="application/vnd.apache.thrift.binary",
                     data_base64="CwAB")
    _, params = await accepted(rest, tenant, {"Content-Type": STRUCTURED},
                               json.dumps(document).encode())
    assert params["event"] == document


async def test_batch_with_binary_and_json_data(rest, tenant):
    members = [event(datacontenttype="application/vnd.apache.thrift.binary", data_base64="CwAB",
                     comexampleothervalue=5),
               event(datacontenttype="application/json", data={"appinfoB": 123})]
    workflow_id = await make_workflow(rest, tenant, event={"enabled": True})
    status, answer = await send(rest, tenant, workflow_id,
                                {"Content-Type": BATCH + "; charset=UTF-8"},
                                json.dumps(members).encode())
    assert status == 200, answer
    assert answer["eventIds"] == [m["id"] for m in members]
    stored = [(await get_run(rest, tenant, run["id"]))["params"]["event"]
              for run in answer["workflowRuns"]]
    assert stored == members


# -- the HTTP binding: headers ----------------------------------------------------------------


async def test_header_values_are_percent_decoded(rest, tenant):
    headers = ce(ce_subject="Euro%20%E2%82%AC%20%F0%9F%98%80", ce_plus="a+b",
                 ce_quoted='"quoted value"', ce_percent="100%", ce_lower="%e2%82%ac")
    _, params = await accepted(rest, tenant, headers, b"")
    stored = params["event"]
    assert (stored["subject"], stored["plus"], stored["quoted"], stored["percent"],
            stored["lower"]) == ("Euro € 😀", "a+b", "quoted value", "100%", "€")


async def test_ce_headers_are_case_insensitive(rest, tenant):
    headers = {"CE-SpecVersion": "1.0", "Ce-Id": "case-" + uuid.uuid4().hex, "CE-SOURCE": "/c",
               "ce-Type": "t.case", "CE-MyExt": "v", "Content-Type": "application/json"}
    _, params = await accepted(rest, tenant, headers, b'{"k": 1}')
    assert params["event"]["myext"] == "v" and params["event"]["source"] == "/c"


async def test_sdk_binary_and_structured_events_are_stored_as_sent(rest, tenant):
    sent = CloudEvent({"id": "sdk-" + uuid.uuid4().hex, "source": "/sdk", "type": "t.sdk",
                       "subject": 'Euro € "q" 100%', "datacontenttype": "application/json",
                       "traceparent": "00-abc-01"}, {"env": "prod"})
    message = to_binary_event(sent)
    _, params = await accepted(rest, tenant, dict(message.headers), message.body)
    structured = json.loads(to_structured_event(sent).body)
    assert params["event"] == structured
    message = to_structured_event(CloudEvent({**sent.get_attributes(),
                                              "id": "sdk-" + uuid.uuid4().hex}, {"a": 1}))
    _, params = await accepted(rest, tenant, dict(message.headers), message.body)
    assert params["event"] == json.loads(message.body)


async def test_nanosecond_time_and_long_extension_name_are_kept(rest, tenant):
    name = "averyveryverylongextensionname1"  # more than 20 characters: only a SHOULD NOT
    document = event(time="2018-04-05T17:31:00.123456789+02:00", **{name: "x"})
    _, params = await accepted(rest, tenant, {"Content-Type": STRUCTURED},
                               json.dumps(document).encode())
    assert params["event"] == document


# -- refusals ---------------------------------------------------------------------------------

REFUSED = {
    "ce-datacontenttype header": (ce(ce_datacontenttype="text/plain"), b"x",
                                  "datacontenttype"),
    "header name with _": ({**ce(), "ce-my_ext": "v"}, b"", "my_ext"),
    "ce-data header": (ce(ce_data="v"), b"", "data"),
    "percent-encoded newline": (ce(ce_subject="a%0Ab"), b"", "subject"),
    "empty ce-subject": (ce(ce_subject=""), b"", "subject"),
    "binary specversion 0.3": (ce(ce_specversion="0.3"), b"", "specversion"),
    "binary time": (ce(ce_time="2018-04-05"), b"", "time"),
    "binary bad JSON data": (ce(content_type="application/json"), b"{nope", "data"),
    "text that is not its charset": (ce(content_type="text/plain; charset=utf-8"), b"\xff",
                                     "data"),
    "Content-Type no media type": (ce(content_type="json"), b"x", "datacontenttype"),
    "uppercase attribute": (event(Subject="x"), None, "Subject"),
    "attribute with -": (event(**{"my-ext": "x"}), None, "my-ext"),
    "specversion 0.3": (event(specversion="0.3"), None, "specversion"),
    "specversion number": (event(specversion=1.0), None, "specversion"),
    "missing id": ({k: v for k, v in event().items() if k != "id"}, None, "id"),
    "missing source": ({k: v for k, v in event().items() if k != "source"}, None, "source"),
    "missing type": ({k: v for k, v in event().items() if k != "type"}, None, "type"),
    "null id": (event(id=None), None, "id"),
    "empty id": (event(id=""), None, "id"),
    "empty type": (event(type=""), None, "type"),
    "id a number": (event(id=5), None, "id"),
    "subject a number": (event(subject=5), None, "subject"),
    "empty subject": (event(subject=""), None, "subject"),
    "source with a space": (event(source="my source"), None, "source"),
    "relative dataschema": (event(dataschema="/schema.json"), None, "dataschema"),
    "time without offset": (event(time="2018-04-05T17:31:00"), None, "time"),
    "time not a time": (event(time="yesterday"), None, "time"),
    "datacontenttype no media type": (event(datacontenttype="nonsense"), None,
                                      "datacontenttype"),
    "data and data_base64": (event(data={"a": 1}, data_base64="AAEC"), None, "data_base64"),
    "data_base64 not base64": (event(data_base64="not base64!"), None, "data_base64"),
    "data_base64 a number": (event(data_base64=5), None, "data_base64"),
    "object data for text/plain": (event(datacontenttype="text/plain", data={"a": 1}), None,
                                   "data"),
    "extension out of 32 bits": (event(myext=2**31), None, "myext"),
    "extension a fraction": (event(myext=1.5), None, "myext"),
    "extension an object": (event(myext={"a": 1}), None, "myext"),
    "control character": (event(subject="bell\u0007"), None, "subject"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_refused_events_name_the_attribute_and_create_nothing(rest, tenant, case):
    headers_or_event, body, field = REFUSED[case]
    if body is None:
        headers, body = {"Content-Type": STRUCTURED}, json.dumps(headers_or_event).encode()
    else:
        headers = headers_or_event
    await refused(rest, tenant, headers, body, field)


async def test_repeated_attribute_is_refused(rest, tenant):
    body = json.dumps(event(subject="a"))[:-1].encode() + b', "subject": "b"}'
    description = await refused(rest, tenant, {"Content-Type": STRUCTURED}, body, "subject")
    assert "more than once" in description


async def test_batch_with_a_non_object_member_names_it_and_creates_nothing(rest, tenant):
    body = json.dumps([event(), "not an event", event()]).encode()
    description = await refused(rest, tenant, {"Content-Type": BATCH}, body, "body[1]")
    assert "batch event 1" in description


async def test_batch_with_one_bad_member_creates_none_of_them(rest, tenant):
    good, bad = event(), event()
    del bad["type"]
    description = await refused(rest, tenant, {"Content-Type": BATCH},
                                json.dumps([good, bad]).encode(), "type")
    assert "batch event 1" in description


# -- the native gRPC AcceptCloudEvent (protobuf format) ---------------------------------------


def pb_value(**kind):
    return cloudevent_pb2.CloudEventAttributeValue(**kind)


def pb_event(**fields):
    base = {"id": "pb-" + uuid.uuid4().hex, "source": "/proto", "spec_version": "1.0",
            "type": "com.example.proto"}
    return cloudevent_pb2.CloudEvent(**{**base, **fields})


def grpc_auth(tenant):
    return (("authorization", f"Bearer {tenant.token}"), ("x-org-id", tenant.id))


async def test_grpc_typed_attributes_are_stored_in_the_json_format(channel, rest, tenant):
    workflow_id = await make_workflow(rest, tenant, event={"enabled": True})
    stub = inbound_pb2_grpc.InboundServiceStub(channel)
    moment = timestamp_pb2.Timestamp(seconds=1522899084, nanos=500000000)
    sent = pb_event(attributes={
        "subject": pb_value(ce_string="svc"), "time": pb_value(ce_timestamp=moment),
        "dataschema": pb_value(ce_uri="https://example.com/schema"),
        "datacontenttype": pb_value(ce_string="application/json"),
        "count": pb_value(ce_integer=-7), "flag": pb_value(ce_boolean=False),
        "blob": pb_value(ce_bytes=b"\x00\x01"), "link": pb_value(ce_uri_ref="/rel"),
        "unset": pb_value()}, text_data='{"env": "prod"}')
    answer = await stub.AcceptCloudEvent(inbound_pb2.AcceptCloudEventRequest(
        event=sent, ref=workflow_id), metadata=grpc_auth(tenant))
    assert answer.event_id == sent.id
    [run] = answer.workflow_runs
    stored = (await get_run(rest, tenant, run.id))["params"]["event"]
    assert stored == {
        "specversion": "1.0", "id": sent.id, "source": "/proto", "type": "com.example.proto",
        "subject": "svc", "time": "2018-04-05T03:31:24.500Z",
        "dataschema": "https://example.com/schema", "datacontenttype": "application/json",
        "count": -7, "flag": False, "blob": "AAE=", "link": "/rel", "data": {"env": "prod"}}


async def test_grpc_binary_data_without_datacontenttype(channel, rest, tenant):
    workflow_id = await make_workflow(rest, tenant, event={"enabled": True})
    stub = inbound_pb2_grpc.InboundServiceStub(channel)
    answer = await stub.AcceptCloudEvent(inbound_pb2.AcceptCloudEventRequest(
        event=pb_event(binary_data=b"\xff\x00"), ref=workflow_id), metadata=grpc_auth(tenant))
    stored = (await get_run(rest, tenant, answer.workflow_runs[0].id))["params"]["event"]
    assert stored["data_base64"] == "/wA=" and "datacontenttype" not in stored


GRPC_REFUSED = {
    "subject an integer": (pb_event(attributes={"subject": pb_value(ce_integer=1)}), "subject"),
    "time a boolean": (pb_event(attributes={"time": pb_value(ce_boolean=True)}), "time"),
    "time not RFC 3339": (pb_event(attributes={"time": pb_value(ce_string="now")}), "time"),
    "dataschema relative": (pb_event(attributes={"dataschema": pb_value(ce_uri="/x")}),
                            "dataschema"),
    "ce_uri relative": (pb_event(attributes={"myuri": pb_value(ce_uri="x")}), "myuri"),
    "bad name": (pb_event(attributes={"My_Ext": pb_value(ce_string="x")}), "My_Ext"),
    "data in attributes": (pb_event(attributes={"data": pb_value(ce_string="x")}), "data"),
    "id in attributes": (pb_event(attributes={"id": pb_value(ce_string="x")}), "id"),
    "empty type": (pb_event(type=""), "type"),
    "spec version 0.3": (pb_event(spec_version="0.3"), "specversion"),
    "empty subject": (pb_event(attributes={"subject": pb_value(ce_string="")}), "subject"),
    "NUL in subject": (pb_event(attributes={"subject": pb_value(ce_string="a\x00b")}),
                       "subject"),
}


@pytest.mark.parametrize("case", sorted(GRPC_REFUSED))
async def test_grpc_refused_events_name_the_attribute_and_create_nothing(channel, rest, tenant,
                                                                         case):
    sent, field = GRPC_REFUSED[case]
    workflow_id = await make_workflow(rest, tenant, event={"enabled": True})
    stub = inbound_pb2_grpc.InboundServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.AcceptCloudEvent(inbound_pb2.AcceptCloudEventRequest(
            event=sent, ref=workflow_id), metadata=grpc_auth(tenant))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad = error_details_pb2.BadRequest()
    rpc_status.from_call(err.value).details[0].Unpack(bad)
    # A NUL is refused by the request checks of every RPC (SPEC §4) before the CloudEvents
    # rules, naming the protobuf path: `event.attributes["subject"].ceString`.
    [violation] = bad.field_violations
    assert violation.field == field or f'"{field}"' in violation.field, violation
    assert not any(word in err.value.details() for word in PYTHON_TALK), err.value.details()
    assert await runs_of(rest, tenant, workflow_id) == []
