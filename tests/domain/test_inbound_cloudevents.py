"""CloudEvents received over HTTP (SPEC §6, `POST /api/v2/event`), built with the real SDK."""

import json
from datetime import UTC, datetime

import pytest
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from flowhooks_server.domain.errors import InvalidArgument
from flowhooks_server.domain.inbound.cloudevents import BATCH, content_mode, parse_http

SENT_AT = datetime(2025, 5, 4, 3, 2, 1, tzinfo=UTC)


def sdk_event(**overrides):
    attributes = {"id": "evt-1", "source": "/orders", "type": "com.example.order.created",
                  "subject": "order-7", "time": SENT_AT, "traceparent": "00-abc-01"}
    attributes.update(overrides)
    return CloudEvent(attributes, {"amount": 12, "currency": "EUR"})


def fields_of(headers, body):
    with pytest.raises(InvalidArgument) as err:
        parse_http(headers, body)
    return {field for field, _ in err.value.violations}


def structured_without(name):
    message = to_structured_event(sdk_event())
    document = json.loads(message.body)
    del document[name]
    return message.headers, json.dumps(document).encode()


def assert_is_the_sdk_event(event):
    assert (event.id, event.source, event.type, event.specversion) == (
        "evt-1", "/orders", "com.example.order.created", "1.0")
    assert event.subject == "order-7"
    assert event.time == SENT_AT
    assert event.data == {"amount": 12, "currency": "EUR"}
    assert event.extensions == {"traceparent": "00-abc-01"}


def test_structured_mode_parses():
    message = to_structured_event(sdk_event())
    assert content_mode(message.headers) == "structured"
    [event] = parse_http(message.headers, message.body)
    assert_is_the_sdk_event(event)
    assert event.dedupe_key == ("/orders", "evt-1")


def test_structured_mode_accepts_a_charset():
    message = to_structured_event(sdk_event())
    [event] = parse_http({"Content-Type": "application/cloudevents+json; charset=utf-8"},
                         message.body)
    assert event.id == "evt-1"


def test_binary_mode_parses():
    message = to_binary_event(sdk_event())
    assert any(name.startswith("ce-") for name in message.headers)
    assert content_mode(message.headers) == "binary"
    [event] = parse_http(message.headers, message.body)
    assert_is_the_sdk_event(event)


def test_binary_mode_headers_are_case_insensitive():
    message = to_binary_event(sdk_event(datacontenttype="application/json"))
    shouted = {name.upper(): value for name, value in message.headers.items()}
    [event] = parse_http(shouted, message.body)
    assert event.datacontenttype == "application/json"
    assert event.data == {"amount": 12, "currency": "EUR"}


def test_batch_mode_parses_every_event_in_order():
    # The SDK has no batch writer: a batch is a JSON array of its structured JSON format.
    fmt = JSONFormat()
    members = [json.loads(fmt.write(sdk_event(id=f"evt-{n}"))) for n in range(3)]
    events = parse_http({"content-type": BATCH}, json.dumps(members).encode())
    assert [e.id for e in events] == ["evt-0", "evt-1", "evt-2"]
    assert all(e.type == "com.example.order.created" for e in events)


def test_missing_type_names_type():
    assert fields_of(*structured_without("type")) == {"type"}


@pytest.mark.parametrize("name", ["source", "id", "specversion"])
def test_missing_required_attribute_names_it(name):
    assert fields_of(*structured_without(name)) == {name}


def test_missing_type_in_binary_mode_names_type():
    message = to_binary_event(sdk_event())
    headers = {k: v for k, v in message.headers.items() if k != "ce-type"}
    assert fields_of(headers, message.body) == {"type"}


def test_missing_id_in_binary_mode_is_not_filled_in():
    message = to_binary_event(sdk_event())
    headers = {k: v for k, v in message.headers.items() if k != "ce-id"}
    assert fields_of(headers, message.body) == {"id"}


def test_missing_type_in_a_batch_names_type_and_the_member():
    members = [json.loads(JSONFormat().write(sdk_event())) for _ in range(2)]
    del members[1]["type"]
    with pytest.raises(InvalidArgument) as err:
        parse_http({"content-type": BATCH}, json.dumps(members).encode())
    [(field, description)] = err.value.violations
    assert field == "type" and "batch event 1" in description


def test_other_spec_version_names_specversion():
    assert fields_of(*_with(specversion="0.3")) == {"specversion"}


def test_empty_source_names_source():
    assert fields_of(*_with(source="")) == {"source"}


def test_bad_time_names_time():
    assert fields_of(*_with(time="yesterday")) == {"time"}


def test_time_left_out_stays_unset():
    headers, body = structured_without("time")
    [event] = parse_http(headers, body)
    assert event.time is None
    assert "time" not in event.to_json()


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'"text"'])
def test_bad_structured_body_names_body(body):
    assert fields_of({"content-type": "application/cloudevents+json"}, body) == {"body"}


@pytest.mark.parametrize("body", [b"{}", b"[]", b"[1]", b"nope"])
def test_bad_batch_body_names_body(body):
    assert fields_of({"content-type": BATCH}, body) == {"body"}


def test_unknown_content_type_without_ce_headers_is_refused():
    assert fields_of({"content-type": "text/plain"}, b"hello") == {"Content-Type"}


def test_to_json_is_the_cloudevents_json_format():
    message = to_structured_event(sdk_event())
    [event] = parse_http(message.headers, message.body)
    assert event.to_json() == json.loads(message.body)


def _with(**changes):
    message = to_structured_event(sdk_event())
    document = {**json.loads(message.body), **changes}
    return message.headers, json.dumps(document).encode()
