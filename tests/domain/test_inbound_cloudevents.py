"""CloudEvents received over HTTP (SPEC §6, `POST /api/v2/event`): conformance with the
CloudEvents 1.0 spec, its JSON event format and its HTTP protocol binding, case by case. Events
are built with the real SDK where it can build them; the cases of the conformance suite
(cloudevents/conformance `features/http-protocol-binding.feature`, `yaml/v1.yaml`,
`yaml/v1.0/v1_minimum.yaml`) and the examples of the spec are written out as sent."""

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.exceptions import CloudEventValidationError
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from flowhooks.v1 import cloudevent_pb2
from google.protobuf import any_pb2, timestamp_pb2

from flowhooks_server.api.inbound import _cloudevent_json
from flowhooks_server.domain.errors import InvalidArgument
from flowhooks_server.domain.inbound.cloudevents import (
    BATCH,
    STRUCTURED,
    _ReceivedEvent,
    content_mode,
    from_json,
    header_value,
    parse_http,
    parse_timestamp,
    sdk_violations,
)

SENT_AT = datetime(2025, 5, 4, 3, 2, 1, tzinfo=UTC)
CE_HEADERS = {"ce-specversion": "1.0", "ce-id": "b-1", "ce-source": "/s", "ce-type": "t.x"}
MINIMAL = {"specversion": "1.0", "id": "s-1", "source": "/s", "type": "t.x"}
# What an error message may never show (SPEC §6: the attribute and the rule, no Python types).
PYTHON_TALK = ("<class", "NoneType", "Attribute '", "pydantic", "Traceback", "dict", "str'",
               "datetime")


def sdk_event(**overrides):
    attributes = {"id": "evt-1", "source": "/orders", "type": "com.example.order.created",
                  "subject": "order-7", "time": SENT_AT, "traceparent": "00-abc-01"}
    attributes.update(overrides)
    return CloudEvent(attributes, {"amount": 12, "currency": "EUR"})


def violations_of(headers, body) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as err:
        parse_http(headers, body)
    found = dict(err.value.violations)
    for description in found.values():
        assert not any(word in description for word in PYTHON_TALK), description
    return found


def fields_of(headers, body):
    return set(violations_of(headers, body))


def structured(**members):
    """A structured-mode request: MINIMAL plus `members` (None stays a JSON null)."""
    return {"content-type": STRUCTURED}, json.dumps({**MINIMAL, **members}).encode()


def structured_without(name):
    message = to_structured_event(sdk_event())
    document = json.loads(message.body)
    del document[name]
    return message.headers, json.dumps(document).encode()


def one(headers, body):
    [event] = parse_http(headers, body)
    return event


def binary(body=b"", **headers):
    return {**CE_HEADERS, **{k.replace("_", "-"): v for k, v in headers.items()}}, body


def assert_is_the_sdk_event(event):
    assert (event.id, event.source, event.type, event.specversion) == (
        "evt-1", "/orders", "com.example.order.created", "1.0")
    assert event.subject == "order-7"
    assert event.time == SENT_AT
    assert event.data == {"amount": 12, "currency": "EUR"}
    assert event.extensions == {"traceparent": "00-abc-01"}


# -- what users saw (reproductions) ------------------------------------------------------------


def test_repro_binary_mode_without_content_type_is_valid():
    event = one({**CE_HEADERS, "content-type": ""}, b"\x00\x01raw")
    assert event.datacontenttype is None and event.data == b"\x00\x01raw"
    assert event.to_json()["data_base64"] == base64.b64encode(b"\x00\x01raw").decode()
    assert "datacontenttype" not in event.to_json()


def test_repro_subject_null_is_absent():
    event = one(*structured(subject=None))
    assert event.subject is None and "subject" not in event.to_json()


def test_repro_empty_batch_is_valid():
    assert parse_http({"content-type": BATCH}, b"[]") == []


def test_repro_overlong_utf8_subject_is_refused():
    found = violations_of(*binary(ce_subject="a%C0%A0b"))
    assert set(found) == {"subject"} and "UTF-8" in found["subject"]


# -- the conformance suite ----------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
def test_conformance_binary_content_mode(content_type):
    headers = {"ce-specversion": "1.0", "ce-type": "com.example.someevent",
               "ce-time": "2018-04-05T03:56:24Z", "ce-id": "1234-1234-1234",
               "ce-source": "/mycontext/subcontext", "Content-Type": content_type}
    event = one(headers, b'{\n    "message": "Hello World!"\n}\n')
    assert event.to_json() == {
        "id": "1234-1234-1234", "specversion": "1.0", "type": "com.example.someevent",
        "source": "/mycontext/subcontext", "time": "2018-04-05T03:56:24Z",
        "datacontenttype": content_type, "data": {"message": "Hello World!"}}


@pytest.mark.parametrize("content_type", ["application/cloudevents+json",
                                          "application/cloudevents+json; charset=utf-8",
                                          "Application/CloudEvents+JSON; charset=UTF-8"])
def test_conformance_structured_content_mode(content_type):
    body = b"""{
        "specversion": "1.0", "type": "com.example.someevent", "time": "2018-04-05T03:56:24Z",
        "id": "1234-1234-1234", "source": "/mycontext/subcontext",
        "datacontenttype": "application/json", "data": {"message": "Hello World!"}}"""
    event = one({"Content-Type": content_type}, body)
    assert event.to_json() == {**json.loads(body)}


V1_MINIMUM = [  # yaml/v1.0/v1_minimum.yaml: datacontenttype, data, and the data as decoded
    ("text/plain; charset=us-ascii", b"Hello, World!\n", "Hello, World!\n"),
    ("text/plain; charset=utf-8", "Hello, 🌎!\n".encode(), "Hello, 🌎!\n"),
    ("application/json; charset=utf-8", '"Hello, 🌎!"\n'.encode(), "Hello, 🌎!"),
    ("application/json; charset=utf-8", '{"msg":"Hello, 🌎!"}\n'.encode(), {"msg": "Hello, 🌎!"}),
    ("application/json; charset=utf-8", '["Hello","🌎!"]\n'.encode(), ["Hello", "🌎!"]),
    ("application/xml; charset=utf-8", "<msg>Hello, 🌎!</msg>\n".encode(),
     "<msg>Hello, 🌎!</msg>\n"),
]
MINIMUM_SOURCE = "//github.com/cloudevents/cloudeventsconformance/yaml/v1.yaml"


@pytest.mark.parametrize(("content_type", "body", "data"), V1_MINIMUM)
def test_conformance_minimum_events_in_binary_mode(content_type, body, data):
    headers = {"ce-specversion": "1.0", "ce-type": "io.cloudevents.minimum",
               "ce-id": "conformance-0001", "ce-source": MINIMUM_SOURCE,
               "content-type": content_type}
    event = one(headers, body)
    assert (event.datacontenttype, event.data, event.source) == (
        content_type, data, MINIMUM_SOURCE)


@pytest.mark.parametrize(("content_type", "body", "data"), V1_MINIMUM)
def test_conformance_minimum_events_in_structured_mode(content_type, body, data):
    event = one(*structured(datacontenttype=content_type, data=data, source=MINIMUM_SOURCE))
    assert (event.datacontenttype, event.data) == (content_type, data)


def test_conformance_v1_extensions_in_both_modes():
    other = '{"othervalue": 5}\n'
    headers = {"ce-specversion": "1.0", "ce-type": "com.example.someevent",
               "ce-time": "2018-04-05T03:56:24Z", "ce-id": "4321-4321-4321",
               "ce-source": "/mycontext/subcontext", "ce-comexampleextension1": "value",
               "ce-comexampleextension2": "%7B%22othervalue%22%3A%205%7D%0A".replace("%0A", ""),
               "user-agent": "foo", "content-type": "application/json"}
    event = one(headers, b'{"world":"hello"}\n')
    assert event.extensions == {"comexampleextension1": "value",
                                "comexampleextension2": other.strip()}
    assert event.data == {"world": "hello"}
    event = one(*structured(comexampleextension1="value", comexampleextension2=other.strip(),
                            data={"world": "hello"}))
    assert event.extensions["comexampleextension2"] == '{"othervalue": 5}'


# -- modes ------------------------------------------------------------------------------------


def test_structured_mode_parses():
    message = to_structured_event(sdk_event())
    assert content_mode(message.headers) == "structured"
    event = one(message.headers, message.body)
    assert_is_the_sdk_event(event)
    assert event.dedupe_key == ("/orders", "evt-1")


def test_structured_mode_accepts_a_charset():
    message = to_structured_event(sdk_event())
    event = one({"Content-Type": "application/cloudevents+json; charset=utf-8"}, message.body)
    assert event.id == "evt-1"


def test_binary_mode_parses():
    message = to_binary_event(sdk_event(datacontenttype="application/json"))
    assert content_mode(message.headers) == "binary"
    event = one(message.headers, message.body)
    assert_is_the_sdk_event(event)
    assert event.datacontenttype == "application/json"


def test_binary_mode_without_datacontenttype_keeps_the_sdk_body_as_bytes():
    # The SDK sends no Content-Type for an event without datacontenttype: the receiver may
    # assume nothing about the bytes, JSON-looking or not (JSON format §3.1.1, last example).
    message = to_binary_event(sdk_event())
    assert "content-type" not in {name.lower() for name in message.headers}
    event = one(message.headers, message.body)
    assert event.datacontenttype is None and event.data == message.body
    assert json.loads(base64.b64decode(event.to_json()["data_base64"])) == {
        "amount": 12, "currency": "EUR"}


def test_binary_mode_json_example_without_content_type_is_data_base64():
    event = one(*binary(b'{ "xyz": 123 }'))
    assert event.to_json() == {**{k[3:]: v for k, v in CE_HEADERS.items()},
                               "data_base64": "eyAieHl6IjogMTIzIH0="}


def test_binary_mode_without_body_has_no_data():
    event = one(*binary())
    assert event.data is None and "data" not in event.to_json()
    assert "data_base64" not in event.to_json()


def test_binary_mode_headers_are_case_insensitive():
    message = to_binary_event(sdk_event(datacontenttype="application/json"))
    shouted = {name.upper(): value for name, value in message.headers.items()}
    event = one(shouted, message.body)
    assert event.datacontenttype == "application/json"
    assert event.data == {"amount": 12, "currency": "EUR"}
    mixed = {"Ce-Id": "m-1", "CE-SOURCE": "/m", "ce-Type": "t", "cE-specVersion": "1.0"}
    assert one(mixed, b"").id == "m-1"


@pytest.mark.parametrize(("content_type", "body", "data"), [
    ("application/octet-stream", b"\x00\xff", b"\x00\xff"),
    ("image/png", b"\x89PNG", b"\x89PNG"),
    ("application/xml", b"<a/>", b"<a/>"),  # no charset, not text/*: opaque bytes
    ("text/plain", b"plain", "plain"),
    ("text/plain", b"\xff\xfe", b"\xff\xfe"),  # text/* without charset that is not UTF-8
    ("text/plain", b"a\x00b", b"a\x00b"),  # text JSON could not store: kept as bytes
    ("text/plain; charset=iso-8859-1", b"caf\xe9", "café"),
    ("text/plain; charset=\"UTF-8\"", "€".encode(), "€"),
    ("text/plain; charset=no-such-charset", b"abc", b"abc"),
    ("application/vnd.example+json", b'{"a": 1}', {"a": 1}),
    ("text/json", b"[1, 2]", [1, 2]),
    ("application/json", b"  ", None),
])
def test_binary_mode_data_follows_the_content_type(content_type, body, data):
    event = one(*binary(body, content_type=content_type))
    assert event.data == data and type(event.data) is type(data)
    assert event.datacontenttype == content_type


def test_binary_mode_text_that_is_not_its_declared_charset_is_refused():
    found = violations_of(*binary(b"\xff", content_type="text/plain; charset=utf-8"))
    assert set(found) == {"data"} and "utf-8" in found["data"]


def test_binary_mode_invalid_json_data_names_data():
    assert fields_of(*binary(b"{nope", content_type="application/json")) == {"data"}


def test_binary_mode_refuses_a_ce_datacontenttype_header():
    found = violations_of(*binary(b"x", ce_datacontenttype="text/plain"))
    assert set(found) == {"datacontenttype"} and "Content-Type" in found["datacontenttype"]


@pytest.mark.parametrize("content_type", ["json", "text/", "/json", "text/plain; charset",
                                          "a b/c", "text/plain;;"])
def test_binary_mode_content_type_must_be_a_media_type(content_type):
    found = violations_of(*binary(b"x", content_type=content_type))
    assert set(found) == {"datacontenttype"} and "RFC 2046" in found["datacontenttype"]


def test_batch_mode_parses_every_event_in_order():
    # The SDK has no batch writer: a batch is a JSON array of its structured JSON format.
    fmt = JSONFormat()
    members = [json.loads(fmt.write(sdk_event(id=f"evt-{n}"))) for n in range(3)]
    events = parse_http({"content-type": BATCH}, json.dumps(members).encode())
    assert [e.id for e in events] == ["evt-0", "evt-1", "evt-2"]
    assert all(e.type == "com.example.order.created" for e in events)


def test_batch_example_of_the_json_format():
    thrift = base64.b64encode(b"\x0b\x00\x01").decode()
    batch = [
        {**MINIMAL, "id": "B234-1234-1234", "source": "/mycontext/4",
         "time": "2018-04-05T17:31:00Z", "comexampleextension1": "value",
         "comexampleothervalue": 5, "datacontenttype": "application/vnd.apache.thrift.binary",
         "data_base64": thrift},
        {**MINIMAL, "id": "C234-1234-1234", "source": "/mycontext/9",
         "datacontenttype": "application/json",
         "data": {"appinfoA": "abc", "appinfoB": 123, "appinfoC": True}},
    ]
    first, second = parse_http({"content-type": BATCH + "; charset=UTF-8"},
                               json.dumps(batch).encode())
    assert first.data == b"\x0b\x00\x01" and first.extensions["comexampleothervalue"] == 5
    assert first.to_json() == batch[0] and second.to_json() == batch[1]


def test_batch_member_that_is_not_an_object_is_named():
    body = json.dumps([MINIMAL, "not an event"]).encode()
    found = violations_of({"content-type": BATCH}, body)
    assert set(found) == {"body[1]"} and "batch event 1" in found["body[1]"]


def test_missing_type_in_a_batch_names_type_and_the_member():
    members = [json.loads(JSONFormat().write(sdk_event())) for _ in range(2)]
    del members[1]["type"]
    found = violations_of({"content-type": BATCH}, json.dumps(members).encode())
    assert set(found) == {"type"} and "batch event 1" in found["type"]


@pytest.mark.parametrize("body", [b"{}", b"nope", b'"text"'])
def test_bad_batch_body_names_body(body):
    assert fields_of({"content-type": BATCH}, body) == {"body"}


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'"text"', b"null"])
def test_bad_structured_body_names_body(body):
    assert fields_of({"content-type": "application/cloudevents+json"}, body) == {"body"}


def test_unknown_content_type_without_ce_headers_is_refused():
    assert fields_of({"content-type": "text/plain"}, b"hello") == {"Content-Type"}


def test_other_event_format_with_ce_headers_is_binary():
    # HTTP binding §3: a CloudEvents format we cannot read MAY be treated as binary.
    event = one(*binary(b"\x01", content_type="application/cloudevents+avro"))
    assert event.data == b"\x01"


def test_ce_headers_are_ignored_in_structured_mode():
    headers = {**CE_HEADERS, "content-type": STRUCTURED}
    event = one(headers, json.dumps({**MINIMAL, "id": "from-body"}).encode())
    assert event.id == "from-body"


# -- header values: quoted strings, percent-decoding, UTF-8 ------------------------------------


@pytest.mark.parametrize(("raw", "text"), [
    ("Euro%20%E2%82%AC%20%F0%9F%98%80", "Euro € 😀"),  # the binding's own example
    ("euro%e2%82%ac", "euro€"),  # lower-case hex is accepted
    ("%41%42C", "ABC"),  # unnecessarily encoded: accepted
    ("a+b", "a+b"),  # + is not a space
    ("100%", "100%"),  # a % that starts no escape is kept (older senders)
    ("%zz", "%zz"),
    ('"quoted value"', "quoted value"),  # RFC 7230 quoted-string, then percent-decoding
    ('"a \\"b\\" c"', 'a "b" c'),
    ('x"%20"y', "x y"),
    ("plain", "plain"),
])
def test_header_values_are_decoded_per_the_binding(raw, text):
    assert header_value(raw) == text


@pytest.mark.parametrize("raw", ["a%C0%A0b", "%ED%A0%80", "%FF", "%E2%82", "%80",
                                 '"unterminated', "caf\u00e9", "a\x00b", "tab\x7f"])
def test_header_values_that_do_not_decode_are_refused(raw):
    with pytest.raises(ValueError):
        header_value(raw)


@pytest.mark.parametrize("subject", ["a%C0%A0b", "%ED%A0%80", "%FF", '"open'])
def test_an_undecodable_header_names_its_attribute(subject):
    found = violations_of(*binary(ce_subject=subject))
    assert set(found) == {"subject"} and "ce-subject" in found["subject"]


def test_an_undecodable_extension_header_names_the_extension():
    assert fields_of(*binary(ce_myext="%C0%A0")) == {"myext"}


def test_a_percent_encoded_control_character_is_refused():
    found = violations_of(*binary(ce_subject="a%0Ab"))
    assert set(found) == {"subject"} and "U+000A" in found["subject"]


def test_percent_decoded_attributes_are_stored_decoded():
    event = one(*binary(ce_subject="Euro%20%E2%82%AC", ce_source="%2Fa%2Fb", ce_myext="x%25y"))
    assert (event.subject, event.source, event.extensions) == ("Euro €", "/a/b",
                                                               {"myext": "x%y"})


def test_sdk_encoded_headers_decode_to_the_same_event():
    event = sdk_event(subject='Euro € 😀 "quoted" 100%', datacontenttype="application/json")
    message = to_binary_event(event)
    assert one(message.headers, message.body).subject == 'Euro € 😀 "quoted" 100%'


# -- null is absent (JSON format §2.2) ---------------------------------------------------------


@pytest.mark.parametrize("name", ["subject", "time", "dataschema", "datacontenttype",
                                  "myextension", "data_base64"])
def test_an_optional_attribute_given_as_null_is_absent(name):
    event = one(*structured(**{name: None}))
    assert name not in event.to_json()
    assert getattr(event, name, None) is None and name not in event.extensions


@pytest.mark.parametrize("name", ["id", "source", "type", "specversion"])
def test_a_required_attribute_given_as_null_is_missing(name):
    found = violations_of(*structured(**{name: None}))
    assert set(found) == {name} and "is required" in found[name]


def test_the_json_format_examples_with_null_attributes():
    event = one(*structured(subject=None, time=None, unsetextension=None,
                            datacontenttype="application/xml", data='<much wow="xml"/>'))
    assert event.to_json() == {**MINIMAL, "datacontenttype": "application/xml",
                               "data": '<much wow="xml"/>'}


# -- data and data_base64 (JSON format §3.1) ---------------------------------------------------


@pytest.mark.parametrize("data", [{"a": 1}, [1, "two"], "I'm just a string", 1.5, 7, True,
                                  None, 2**64 + 1])
@pytest.mark.parametrize("content_type", [None, "application/json", "text/json",
                                          "application/vnd.example+json; charset=utf-8"])
def test_json_data_is_any_json_value(data, content_type):
    extra = {} if content_type is None else {"datacontenttype": content_type}
    event = one(*structured(data=data, **extra))
    assert event.data == data and event.has_data
    assert event.to_json()["data"] == data  # `"data": null` stays an explicit null payload


def test_a_json_string_is_not_parsed_again():
    event = one(*structured(data='{"a": 1}', datacontenttype="application/json"))
    assert event.data == '{"a": 1}'


def test_non_json_datacontenttype_takes_string_data():
    event = one(*structured(datacontenttype="text/plain; charset=utf-8", data="hello"))
    assert event.data == "hello" and event.to_json()["data"] == "hello"


@pytest.mark.parametrize("data", [{"a": 1}, [1], 5, True])
def test_non_json_datacontenttype_refuses_non_string_data(data):
    found = violations_of(*structured(datacontenttype="text/plain", data=data))
    assert set(found) == {"data"} and "text/plain" in found["data"]


def test_data_base64_is_binary_data():
    event = one(*structured(data_base64="AAEC", datacontenttype="application/octet-stream"))
    assert event.data == b"\x00\x01\x02" and event.to_json()["data_base64"] == "AAEC"


def test_data_base64_without_datacontenttype_is_not_read_as_json():
    event = one(*structured(data_base64="eyAieHl6IjogMTIzIH0="))
    assert event.data == b'{ "xyz": 123 }' and event.datacontenttype is None


def test_data_and_data_base64_together_are_refused():
    found = violations_of(*structured(data={"a": 1}, data_base64="AAEC"))
    assert set(found) == {"data_base64"} and "data" in found["data_base64"]
    assert fields_of(*structured(data=None, data_base64="AAEC")) == {"data_base64"}
    assert one(*structured(data="x", data_base64=None)).data == "x"


@pytest.mark.parametrize("encoded", ["not base64!", "AAE", "AA EC", "AAEC\n", "====", 5, {}])
def test_data_base64_that_is_not_base64_is_refused(encoded):
    found = violations_of(*structured(data_base64=encoded))
    assert set(found) == {"data_base64"} and "Base64" in found["data_base64"]


# -- attribute names ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Subject", "my-ext", "my_ext", "ümlaut", "a.b", "data_base"])
def test_attribute_names_must_be_lowercase_letters_and_digits(name):
    found = violations_of(*structured(**{name: "v"}))
    assert set(found) == {name} and "a-z" in found[name]


def test_an_empty_attribute_name_names_the_body():
    assert fields_of(*structured(**{"": "v"})) == {"body"}


@pytest.mark.parametrize("header", ["ce-My_Ext", "ce-my-ext", "ce-data", "ce-"])
def test_binary_attribute_names_follow_the_same_rules(header):
    found = violations_of({**CE_HEADERS, header: "v"}, b"")
    [(name, description)] = found.items()
    assert name == (header[3:].lower() or "ce-") and header.lower() in description


def test_a_name_longer_than_20_characters_is_accepted():
    # Naming conventions: SHOULD NOT exceed 20 characters (a recommendation, not a MUST).
    name = "averyveryverylongextensionname1"
    assert one(*structured(**{name: "v"})).extensions == {name: "v"}
    assert one(*binary(**{"ce-" + name: "v"})).extensions == {name: "v"}


def test_an_attribute_given_twice_is_refused():
    body = b'{"specversion":"1.0","id":"1","source":"/s","type":"t","subject":"a","subject":"b"}'
    found = violations_of({"content-type": STRUCTURED}, body)
    assert set(found) == {"subject"} and "more than once" in found["subject"]
    batch = b"[" + body + b"]"
    assert "batch event 0" in violations_of({"content-type": BATCH}, batch)["subject"]


# -- required attributes and specversion -------------------------------------------------------


@pytest.mark.parametrize("name", ["type", "source", "id", "specversion"])
def test_missing_required_attribute_names_it(name):
    found = violations_of(*structured_without(name))
    assert set(found) == {name} and "is required" in found[name]


@pytest.mark.parametrize("name", ["type", "id"])
def test_missing_required_attribute_in_binary_mode_is_not_filled_in(name):
    headers = {k: v for k, v in CE_HEADERS.items() if k != "ce-" + name}
    assert fields_of(headers, b"") == {name}


def test_missing_everything_names_every_required_attribute():
    assert fields_of({"content-type": STRUCTURED}, b"{}") == {"id", "source", "type",
                                                              "specversion"}


@pytest.mark.parametrize("name", ["id", "source", "type"])
@pytest.mark.parametrize("mode", ["structured", "binary"])
def test_empty_required_attribute_names_it(name, mode):
    request = structured(**{name: ""}) if mode == "structured" else binary(**{"ce-" + name: ""})
    found = violations_of(*request)
    assert set(found) == {name} and "empty" in found[name]


@pytest.mark.parametrize("version", ["0.3", "1", "1.0.2", "", 1.0, 1])
def test_other_spec_version_names_specversion(version):
    found = violations_of(*structured(specversion=version))
    assert set(found) == {"specversion"} and '"1.0"' in found["specversion"]
    if isinstance(version, str):
        assert fields_of(*binary(ce_specversion=version)) == {"specversion"}


# -- context attribute types -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["id", "type", "subject", "source", "time", "dataschema",
                                  "datacontenttype"])
@pytest.mark.parametrize("value", [5, True, {"a": 1}, ["x"], 1.5])
def test_core_attributes_must_be_strings(name, value):
    found = violations_of(*structured(**{name: value}))
    assert set(found) == {name} and "must be" in found[name]


@pytest.mark.parametrize("source", [
    "https://github.com/cloudevents", "mailto:cncf-wg-serverless@lists.cncf.io",
    "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66", "/cloudevents/spec/pull/123",
    "/sensors/tn-1234567/alerts", "1-555-123-4567", "cloudevents/spec/pull/123",
    "//github.com/cloudevents/cloudeventsconformance/yaml/v1.yaml", "/a%20b?q=1#frag",
    "http://[::1]:8080/x", "http://user:pw@host:80/p", "./x", "?q", "#f"])
def test_source_accepts_uri_references(source):
    assert one(*structured(source=source)).source == source


@pytest.mark.parametrize("source", ["has space", "/caf\u00e9", "a\\b", "http://x/%zz", "<x>",
                                    "x{y}", "ht tp://x", "a^b", ":nope"])
def test_source_refuses_what_is_no_uri_reference(source):
    found = violations_of(*structured(source=source))
    assert set(found) == {"source"} and "URI-reference" in found["source"]


@pytest.mark.parametrize("schema", ["https://example.com/schema.json", "urn:example:schema",
                                    "https://example.com/s.json#/defs/a"])
def test_dataschema_accepts_absolute_uris(schema):
    assert one(*structured(dataschema=schema)).dataschema == schema


@pytest.mark.parametrize("schema", ["/relative/schema.json", "schema.json", "", "has space:x"])
def test_dataschema_refuses_what_is_no_absolute_uri(schema):
    assert fields_of(*structured(dataschema=schema)) == {"dataschema"}
    assert fields_of(*binary(ce_dataschema=schema)) == {"dataschema"}


@pytest.mark.parametrize(("text", "moment"), [
    ("2018-04-05T17:31:00Z", datetime(2018, 4, 5, 17, 31, tzinfo=UTC)),
    ("2018-04-05t17:31:00z", datetime(2018, 4, 5, 17, 31, tzinfo=UTC)),
    ("2018-04-05T17:31:00.5+02:00",
     datetime(2018, 4, 5, 17, 31, 0, 500000, tzinfo=timezone(timedelta(hours=2)))),
    ("2018-04-05T17:31:00.123456789-05:30",
     datetime(2018, 4, 5, 17, 31, 0, 123456, tzinfo=timezone(-timedelta(hours=5, minutes=30)))),
    ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)),  # leap second
])
def test_time_is_rfc3339(text, moment):
    assert parse_timestamp(text) == moment
    event = one(*structured(time=text))
    assert event.time == moment and event.to_json()["time"] == text  # kept as sent
    assert one(*binary(ce_time=text)).to_json()["time"] == text


@pytest.mark.parametrize("text", ["2018-04-05", "2018-04-05T17:31:00", "2018-04-05 17:31:00Z",
                                  "yesterday", "2018-13-01T00:00:00Z", "2018-02-30T00:00:00Z",
                                  "20180405T173100Z", "2018-04-05T24:00:00Z",
                                  "2018-04-05T17:31:00+24:00", "2018-04-05T17:31:00.Z",
                                  "\u0662018-04-05T17:31:00Z", ""])
def test_time_that_is_not_rfc3339_names_time(text):
    found = violations_of(*structured(time=text))
    assert set(found) == {"time"}
    assert fields_of(*binary(ce_time=text)) == {"time"}


def test_time_left_out_stays_unset():
    event = one(*structured_without("time"))
    assert event.time is None
    assert "time" not in event.to_json()


@pytest.mark.parametrize("value", [True, False, 0, -(2**31), 2**31 - 1, "", "text"])
def test_extension_values_of_json_types_keep_their_type(value):
    event = one(*structured(myext=value))
    assert event.extensions == {"myext": value}
    assert type(event.to_json()["myext"]) is type(value)


@pytest.mark.parametrize("value", [2**31, -(2**31) - 1, 2**64])
def test_extension_integers_outside_32_bits_are_refused(value):
    found = violations_of(*structured(myext=value))
    assert set(found) == {"myext"} and "2147483647" in found["myext"]


@pytest.mark.parametrize("value", [1.5, 1.0, 1e3, {"a": 1}, [1]])
def test_extension_values_of_other_json_types_are_refused(value):
    found = violations_of(*structured(myext=value))
    assert set(found) == {"myext"} and "Integer" in found["myext"]


def test_extension_values_in_binary_mode_are_strings():
    assert one(*binary(ce_myint="5", ce_mybool="true")).extensions == {
        "myint": "5", "mybool": "true"}


@pytest.mark.parametrize(("name", "value", "codepoint"), [
    ("subject", "a\u0007b", "U+0007"), ("subject", "a\nb", "U+000A"),
    ("id", "x\u0085", "U+0085"), ("myext", "\ufffe", "U+FFFE"), ("type", "\ufdd0", "U+FDD0"),
    ("subject", "\U0001ffff", "U+1FFFF"), ("myext", "\x7f", "U+007F")])
def test_strings_refuse_control_characters_and_noncharacters(name, value, codepoint):
    found = violations_of(*structured(**{name: value}))
    assert set(found) == {name} and codepoint in found[name]


def test_strings_accept_surrogate_pairs_and_other_unicode():
    event = one({"content-type": STRUCTURED},
                b'{"specversion":"1.0","id":"\\ud83d\\ude00","source":"/s","type":"t",'
                b'"subject":"caf\xc3\xa9 \xe2\x82\xac"}')
    assert (event.id, event.subject) == ("😀", "café €")


def test_empty_optional_strings_are_refused():
    for name in ("subject", "dataschema", "datacontenttype"):
        assert fields_of(*structured(**{name: ""})) == {name}
    assert fields_of(*binary(ce_subject="")) == {"subject"}


# -- error messages ------------------------------------------------------------------------------


def test_all_problems_of_an_event_are_named_at_once():
    found = violations_of(*structured(id=5, subject="", time="now", myext=1.5, specversion="2"))
    assert set(found) == {"id", "subject", "time", "myext", "specversion"}


@pytest.mark.parametrize("attributes", [
    {"subject": None}, {"id": 5}, {"source": ""}, {"type": None}, {"specversion": "0.3"},
    {"time": "2020-01-01T00:00:00"}, {"time": datetime(2020, 1, 1)}, {"time": None},
    {"datacontenttype": ""}, {"dataschema": 7}, {"Bad": 1}, {"data": 1}, {"x-y": 1},
    {"id": None, "source": None, "type": None},
])
def test_every_sdk_validation_error_is_told_without_python_types(attributes):
    """The SDK's own messages say `must be a <class 'str'>`; through our wrapper every one of
    them names the attribute and the rule instead."""
    full = {**MINIMAL, "time": SENT_AT, **attributes}
    with pytest.raises(CloudEventValidationError) as sdk:
        CloudEvent(dict(full))
    translated = dict(sdk_violations(sdk.value))
    assert set(translated) == set(sdk.value.errors)
    with pytest.raises(InvalidArgument) as ours:
        _ReceivedEvent(dict(full))
    for description in [*translated.values(), *dict(ours.value.violations).values()]:
        assert not any(word in description for word in PYTHON_TALK), description
        assert description.startswith(("is ", "must "))


def test_to_json_is_the_cloudevents_json_format():
    message = to_structured_event(sdk_event())
    event = one(message.headers, message.body)
    assert event.to_json() == json.loads(message.body)


def test_from_json_takes_an_already_parsed_event():
    event = from_json({**MINIMAL, "subject": None, "data": [1]})
    assert event.subject is None and event.data == [1]


# -- the protobuf format (native gRPC AcceptCloudEvent) ----------------------------------------


def pb_value(**kind):
    return cloudevent_pb2.CloudEventAttributeValue(**kind)


def pb_event(**fields):
    base = {"id": "p-1", "source": "/p", "spec_version": "1.0", "type": "t.p"}
    return cloudevent_pb2.CloudEvent(**{**base, **fields})


def pb_parse(event):
    return from_json(_cloudevent_json(event))


def pb_fields(event) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as err:
        pb_parse(event)
    found = dict(err.value.violations)
    for description in found.values():
        assert not any(word in description for word in PYTHON_TALK), description
    return found


def test_protobuf_attribute_types_map_to_the_json_format():
    moment = timestamp_pb2.Timestamp(seconds=1522899084, nanos=123456789)
    event = pb_parse(pb_event(attributes={
        "subject": pb_value(ce_string="s"), "time": pb_value(ce_timestamp=moment),
        "dataschema": pb_value(ce_uri="https://example.com/s"),
        "datacontenttype": pb_value(ce_string="application/json"),
        "myint": pb_value(ce_integer=-5), "mybool": pb_value(ce_boolean=True),
        "mybytes": pb_value(ce_bytes=b"\x00\x01"), "myuri": pb_value(ce_uri="urn:x:y"),
        "myref": pb_value(ce_uri_ref="/rel"), "mytime": pb_value(ce_timestamp=moment),
        "unset": pb_value()}, text_data='{"a": 1}'))
    assert event.to_json() == {
        "specversion": "1.0", "id": "p-1", "source": "/p", "type": "t.p", "subject": "s",
        "time": "2018-04-05T03:31:24.123456789Z", "dataschema": "https://example.com/s",
        "datacontenttype": "application/json", "myint": -5, "mybool": True,
        "mybytes": "AAE=", "myuri": "urn:x:y", "myref": "/rel",
        "mytime": "2018-04-05T03:31:24.123456789Z", "data": {"a": 1}}


def test_protobuf_canonical_strings_are_accepted_for_time_and_dataschema():
    event = pb_parse(pb_event(attributes={
        "time": pb_value(ce_string="2018-04-05T17:31:00Z"),
        "dataschema": pb_value(ce_string="https://example.com/s")}))
    assert event.time == datetime(2018, 4, 5, 17, 31, tzinfo=UTC)


@pytest.mark.parametrize(("name", "value"), [
    ("subject", pb_value(ce_integer=1)), ("subject", pb_value(ce_uri="urn:x")),
    ("time", pb_value(ce_boolean=True)), ("dataschema", pb_value(ce_bytes=b"x")),
    ("datacontenttype", pb_value(ce_integer=1)), ("time", pb_value(ce_string="yesterday")),
    ("dataschema", pb_value(ce_uri="/relative")), ("myuri", pb_value(ce_uri="relative")),
    ("myref", pb_value(ce_uri_ref="has space")), ("subject", pb_value(ce_string="")),
    ("subject", pb_value(ce_string="a\x00b")), ("Bad", pb_value(ce_string="x")),
    ("data", pb_value(ce_string="x")), ("data_base64", pb_value(ce_string="x")),
    ("id", pb_value(ce_string="x")), ("specversion", pb_value(ce_string="1.0")),
    ("mytime", pb_value(ce_timestamp=timestamp_pb2.Timestamp(seconds=10**15))),
])
def test_protobuf_attributes_follow_the_same_rules(name, value):
    assert set(pb_fields(pb_event(attributes={name: value}))) == {name}


@pytest.mark.parametrize("name", ["id", "source", "spec_version", "type"])
def test_protobuf_required_fields_left_empty_are_named(name):
    expected = "specversion" if name == "spec_version" else name
    found = pb_fields(pb_event(**{name: ""}))
    assert set(found) == {expected} and "is required" in found[expected]


def test_protobuf_other_spec_version_names_specversion():
    assert set(pb_fields(pb_event(spec_version="0.3"))) == {"specversion"}


def test_protobuf_data_kinds():
    assert pb_parse(pb_event(binary_data=b"\x00")).to_json()["data_base64"] == "AA=="
    text = pb_parse(pb_event(text_data="<a/>", attributes={
        "datacontenttype": pb_value(ce_string="application/xml")}))
    assert text.data == "<a/>"
    assert pb_parse(pb_event(text_data='"s"')).data == "s"  # no datacontenttype: JSON
    packed = any_pb2.Any(type_url="type.googleapis.com/flowhooks.v1.CloudEvent", value=b"\x0a")
    event = pb_parse(pb_event(proto_data=packed)).to_json()
    assert event["datacontenttype"] == "application/protobuf"
    assert event["dataschema"] == "https://type.googleapis.com/flowhooks.v1.CloudEvent"
    assert event["data_base64"] == "Cg=="


def test_protobuf_text_data_that_is_bad_json_names_text_data():
    assert set(pb_fields(pb_event(text_data="{nope"))) == {"event.textData"}
    nul = pb_event(text_data="a\x00b", attributes={
        "datacontenttype": pb_value(ce_string="text/plain")})
    assert set(pb_fields(nul)) == {"event.textData"}
