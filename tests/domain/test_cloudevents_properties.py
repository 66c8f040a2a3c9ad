"""Property tests (Hypothesis) of the CloudEvents reader (SPEC §6, `POST /api/v2/event`): what
the SDK writes, in either HTTP mode, reads back as the same event; percent-decoding undoes the
binding's percent-encoding and refuses exactly the byte sequences that are not UTF-8; and
whatever arrives, the answer is an event whose JSON reads back as itself, or an
`InvalidArgument` that speaks of attributes and rules, never of Python types."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from cloudevents.core.bindings.http import (
    _encode_header_value,
    to_binary_event,
    to_structured_event,
)
from cloudevents.core.v1.event import CloudEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowhooks_server.domain.errors import InvalidArgument
from flowhooks_server.domain.inbound.cloudevents import (
    BATCH,
    STRUCTURED,
    header_value,
    parse_http,
    parse_timestamp,
)

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
PYTHON_TALK = ("<class", "NoneType", "Attribute '", "Traceback", "pydantic")

# CloudEvents Strings: any Unicode but controls, noncharacters and lone surrogates.
ce_text = st.text(st.characters(blacklist_categories=("Cs", "Cc"),
                                blacklist_characters="\ufffe\uffff"), min_size=1, max_size=30)
names = st.from_regex(r"[a-z][a-z0-9]{0,19}", fullmatch=True)
uri_refs = st.sampled_from(["/orders", "https://example.com/x", "urn:uuid:1", "1-555-123",
                            "//host/p?q=1#f", "mailto:a@b.c"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | ce_text
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ce_text, inner, max_size=3),
    max_leaves=10)
extension_values = st.booleans() | st.integers(-(2**31), 2**31 - 1) | ce_text
moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                       timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                                                  timezone(-timedelta(hours=8))]))


def clean(description: str) -> bool:
    return not any(word in description for word in PYTHON_TALK)


@st.composite
def sdk_events(draw):
    attributes = {"id": draw(ce_text), "source": draw(uri_refs), "type": draw(ce_text)}
    if draw(st.booleans()):
        attributes["subject"] = draw(ce_text)
    if draw(st.booleans()):
        attributes["time"] = draw(moments)
    core = {"id", "source", "type", "subject", "time", "specversion", "datacontenttype",
            "dataschema", "data"}
    extensions = draw(st.dictionaries(names.filter(lambda n: n not in core), extension_values,
                                      max_size=3))
    attributes.update(extensions)
    attributes["datacontenttype"] = "application/json"
    return CloudEvent(attributes, draw(st.dictionaries(ce_text, json_values, max_size=3)))


@SETTINGS
@given(ce_text)
def test_header_values_read_back_what_the_sdk_encoded(text):
    assert header_value(_encode_header_value(text)) == text


@SETTINGS
@given(st.binary(max_size=12))
def test_percent_decoding_refuses_exactly_what_is_not_utf8(raw):
    encoded = "".join(f"%{byte:02X}" for byte in raw)
    try:
        expected = raw.decode("utf-8")
    except UnicodeDecodeError:
        expected = None
    if expected is None:
        try:
            header_value(encoded)
        except ValueError:
            return
        raise AssertionError(f"{encoded} decoded, but it is not UTF-8")
    assert header_value(encoded) == expected
    assert header_value(encoded.lower()) == expected


@SETTINGS
@given(moments)
def test_rfc3339_timestamps_read_back(moment):
    text = moment.isoformat().replace("+00:00", "Z")
    assert parse_timestamp(text) == moment
    assert parse_timestamp(text.replace("T", "t").replace("Z", "z")) == moment


@SETTINGS
@given(sdk_events())
def test_what_the_sdk_writes_reads_back_in_both_modes(event):
    structured = to_structured_event(event)
    [read] = parse_http(structured.headers, structured.body)
    assert read.to_json() == json.loads(structured.body)
    binary = to_binary_event(event)
    [read_binary] = parse_http(binary.headers, binary.body)
    expected = json.loads(structured.body)
    # Headers carry strings: an extension's JSON type is not kept in binary mode. (The SDK
    # writes a Boolean as Python's `True`, not the canonical `true`: a String, kept as sent.)
    expected.update({k: str(v) for k, v in event.get_attributes().items()
                     if k in read.extensions})
    assert read_binary.to_json() == expected


member_names = st.sampled_from(["id", "source", "type", "specversion", "subject", "time",
                                "dataschema", "datacontenttype", "data", "data_base64",
                                "myext", "Bad", "x-y", ""])
member_values = (st.none() | st.booleans() | st.integers(-(2**40), 2**40) | ce_text
                 | st.sampled_from(["1.0", "/s", "2018-04-05T17:31:00Z", "https://x/s",
                                    "text/plain", "application/json", "AAEC", "", "0.3"])
                 | st.floats(allow_nan=False, allow_infinity=False)
                 | st.lists(st.integers(), max_size=2))


MINIMAL = {"specversion": "1.0", "id": "1", "source": "/s", "type": "t"}
documents = st.dictionaries(member_names, member_values, max_size=10)
mostly_events = documents | documents.map(lambda extra: {**MINIMAL, **extra}) | \
    st.dictionaries(names, extension_values, max_size=3).map(lambda extra: {**MINIMAL, **extra})


@SETTINGS
@given(mostly_events)
def test_any_json_object_is_an_event_that_reads_back_or_a_clean_400(document):
    body = json.dumps(document).encode()
    try:
        [event] = parse_http({"content-type": STRUCTURED}, body)
    except InvalidArgument as exc:
        assert exc.violations
        assert all(clean(description) for _, description in exc.violations), exc.violations
        return
    again = json.dumps(event.to_json()).encode()
    [reread] = parse_http({"content-type": STRUCTURED}, again)
    assert reread == event


@SETTINGS
@given(st.lists(mostly_events | json_values, max_size=3))
def test_any_batch_is_events_or_a_clean_400(items):
    try:
        events = parse_http({"content-type": BATCH}, json.dumps(items).encode())
    except InvalidArgument as exc:
        assert all(clean(description) for _, description in exc.violations), exc.violations
        return
    assert len(events) == len(items)


header_names = st.sampled_from(["ce-id", "ce-source", "ce-type", "ce-specversion", "ce-time",
                                "ce-subject", "ce-dataschema", "ce-myext", "ce-Bad_Name",
                                "ce-datacontenttype", "content-type", "ce-"])
header_texts = st.text(st.characters(min_codepoint=0, max_codepoint=0x2FF), max_size=20) | \
    st.sampled_from(["1.0", "/s", "2018-04-05T17:31:00Z", "%C0%A0", "%E2%82%AC", '"q"',
                     "application/json", "text/plain; charset=utf-8", ""])


@SETTINGS
@given(st.dictionaries(header_names, header_texts, max_size=8), st.binary(max_size=16))
def test_any_binary_request_is_an_event_or_a_clean_400(headers, body):
    headers = {"ce-id": "1", "ce-source": "/s", "ce-type": "t", "ce-specversion": "1.0",
               **headers}
    try:
        [event] = parse_http(headers, body)
    except InvalidArgument as exc:
        assert all(clean(description) for _, description in exc.violations), exc.violations
        return
    document = event.to_json()
    json.dumps(document, allow_nan=False).encode("utf-8")  # storable as JSON
    [reread] = parse_http({"content-type": STRUCTURED}, json.dumps(document).encode())
    assert reread.to_json() == document
