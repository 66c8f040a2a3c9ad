"""CloudEvents 1.0 received over HTTP (SPEC §6, `POST /api/v2/event`), in the three content modes
of the HTTP protocol binding:

- structured: `Content-Type: application/cloudevents+json`, the whole event in the body;
- batch: `Content-Type: application/cloudevents-batch+json`, a JSON array of zero or more
  structured events (`[]` is a valid, empty batch);
- binary: attributes in `ce-*` headers, `Content-Type` as `datacontenttype`, the body as `data`.

What each rule comes from (cloudevents/spec, `cloudevents/spec.md`, `formats/json-format.md`,
`bindings/http-protocol-binding.md`):

- Attribute names are lowercase `a-z` and `0-9` (MUST; more than 20 characters is only a SHOULD
  NOT, so it is accepted); `data` is reserved. Each attribute appears at most once.
- Required: `id`, `source`, `type` (non-empty), `specversion` (`"1.0"`). Types: `source` is a
  URI-reference, `dataschema` an absolute URI, `time` an RFC 3339 timestamp, `datacontenttype` an
  RFC 2046 media type, `subject` a non-empty String; extensions are a String, an Integer (signed
  32-bit) or a Boolean. A String holds no control character (U+0000-U+001F, U+007F-U+009F), no
  noncharacter and no lone surrogate.
- JSON format: an attribute given as `null` is absent. `data` and `data_base64` are mutually
  exclusive; `data_base64` is strict RFC 4648 Base64. `data` is any JSON value when the
  `datacontenttype` is absent or declares JSON (`*/json`, `*/*+json`), and a string otherwise.
  `"data": null` is an explicit null payload, kept as such.
- HTTP binding: `ce-` header names are case-insensitive; each value is first unescaped as an
  RFC 7230 quoted-string, then percent-decoded once (only `%XY` escapes; `+` stays `+`), and a
  decoding that is not valid UTF-8 (`%C0%A0`, an overlong space) is refused. A `%` that does not
  start an escape is kept as it is, as older senders did not percent-encode. A
  `ce-datacontenttype` header is refused: binary mode carries it as `Content-Type`.
- Binary mode data: without `Content-Type` the event has no `datacontenttype` and its data is
  the raw bytes, whatever they look like (no JSON is assumed); a JSON media type is parsed
  strictly (`domain.json_doc`); `text/*`, or any type with a `charset`, is text in that charset;
  anything else stays bytes. Bytes appear in the event's JSON as `data_base64`.

The SDK (`cloudevents.core.v1.event.CloudEvent`) is the event model, and its v1.0 validation
runs on every event. Its readers are not used: `from_binary` percent-decodes with replacement
characters (accepting `%C0%A0`) and reads a missing `Content-Type` as JSON; `JSONFormat.read`
refuses `null` attributes with Python type names, parses `time` as ISO 8601 rather than RFC
3339, decodes `data_base64` leniently and takes `data` over `data_base64` silently. The
decoding here follows the spec instead, and an SDK error, should one still come, is told in the
spec's words. Every failure is an `InvalidArgument` naming the attribute (or `body`, `data`,
`data_base64`, `Content-Type`) and the rule, never a Python type.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal
from urllib.parse import unquote

from cloudevents.core.exceptions import (
    CloudEventValidationError,
    CustomExtensionAttributeError,
    InvalidAttributeTypeError,
    MissingRequiredAttributeError,
)
from cloudevents.core.v1.event import CloudEvent

from flowhooks_server.domain import json_doc
from flowhooks_server.domain.errors import InvalidArgument
from flowhooks_server.domain.inbound.http import (
    is_media_type,
    lower_headers,
    media,
    media_type,
    parse_json,
)

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
SPECVERSION = "1.0"
REQUIRED = ("id", "source", "type", "specversion")
OPTIONAL = ("subject", "time", "datacontenttype", "dataschema")
_CORE = frozenset({*REQUIRED, *OPTIONAL})
_JSON_MEDIA = frozenset({"", "application/json", "text/json"})
CE_PREFIX = "ce-"
INT_MIN, INT_MAX = -(2**31), 2**31 - 1

# The CloudEvents type of each core attribute, as error messages name it.
CORE_TYPES = {
    "id": "a non-empty String", "source": "a non-empty URI-reference (RFC 3986)",
    "type": "a non-empty String", "specversion": 'the String "1.0"',
    "subject": "a non-empty String", "time": "a Timestamp (RFC 3339)",
    "datacontenttype": "a media type (RFC 2046)", "dataschema": "an absolute URI (RFC 3986)",
}
_EXTENSION_TYPE = "a String, an Integer or a Boolean"

Mode = Literal["structured", "batch", "binary"]


@dataclass(frozen=True)
class InboundEvent:
    """A received CloudEvent, as plain data.

    `data` is `None` when the event has none, a JSON value, a string (text of a non-JSON media
    type) or `bytes` (binary). `has_data` tells an explicit `"data": null` from no data.
    `time_text` is `time` exactly as sent (RFC 3339 may carry more than microseconds)."""

    id: str
    source: str
    type: str
    specversion: str
    subject: str | None = None
    time: datetime | None = None
    datacontenttype: str | None = None
    dataschema: str | None = None
    data: Any = None
    extensions: dict[str, Any] = field(default_factory=dict)
    time_text: str | None = None
    has_data: bool = False

    @property
    def dedupe_key(self) -> tuple[str, str]:
        """SPEC §6: the same `source` + `id` accepted twice is one event."""
        return self.source, self.id

    def to_json(self) -> dict[str, Any]:
        """The event in the CloudEvents JSON format: the run's `event` param, and what trigger
        conditions (`$.type`, `$.subject`, `$.data.x`) are evaluated against."""
        out: dict[str, Any] = {"specversion": self.specversion, "id": self.id,
                               "source": self.source, "type": self.type}
        for name in ("subject", "datacontenttype", "dataschema"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.time is not None:
            out["time"] = self.time_text or _rfc3339(self.time)
        out.update(self.extensions)
        if isinstance(self.data, bytes):
            out["data_base64"] = base64.b64encode(self.data).decode("ascii")
        elif self.data is not None or self.has_data:
            out["data"] = self.data
        return out


# -- content modes (HTTP binding §3) ----------------------------------------------------------


def content_mode(headers: Mapping[str, str]) -> Mode:
    """The content mode of a request. A CloudEvents media type wins over `ce-*` headers, as the
    HTTP binding says; a plain JSON body without `ce-*` headers is read as structured, which the
    Boomerang route accepted (`Content-Type: application/json`)."""
    kind = media_type(headers)
    if kind == BATCH:
        return "batch"
    if kind == STRUCTURED:
        return "structured"
    if any(name.startswith(CE_PREFIX) for name in lower_headers(headers)):
        return "binary"
    if kind in _JSON_MEDIA or kind.endswith("+json"):
        return "structured"
    raise InvalidArgument(
        "Content-Type",
        f"{_quote(kind)} is not a CloudEvents request: send {STRUCTURED}, {BATCH}, "
        "or binary mode with ce-* headers",
    )


def parse_http(headers: Mapping[str, str], body: bytes) -> list[InboundEvent]:
    """Every event of one HTTP request, in order (one, except in batch mode: zero or more)."""
    mode = content_mode(headers)
    if mode == "binary":
        return [_parse_binary(headers, body)]
    if mode == "structured":
        return [_parse_structured(body)]
    return _parse_batch(body)


# -- binary mode ------------------------------------------------------------------------------


def _parse_binary(headers: Mapping[str, str], body: bytes) -> InboundEvent:
    lowered = lower_headers(headers)
    problems: list[tuple[str, str]] = []
    attributes: dict[str, Any] = {}
    for header, raw in lowered.items():
        if not header.startswith(CE_PREFIX):
            continue
        name = header[len(CE_PREFIX):]
        problem = attribute_name_problem(name)
        if problem:
            problems.append((name or header, f"{problem} (header {header})"))
            continue
        if name == "datacontenttype":
            problems.append((name, "must travel as the Content-Type header in binary mode, "
                                   "not as a ce-datacontenttype header"))
            continue
        try:
            attributes[name] = header_value(raw)
        except ValueError as exc:
            problems.append((name, f"{exc} (header {header}; HTTP binding §3.1.3.2)"))
    content_type = lowered.get("content-type", "").strip()
    if content_type:
        attributes["datacontenttype"] = content_type
    if problems:
        raise InvalidArgument(problems)
    checked = _checked_attributes(attributes)
    data = _binary_data(media(content_type) if content_type else None, content_type, body)
    return _event(checked, data, has_data=data is not None)


def header_value(raw: str) -> str:
    """The text of one `ce-*` header value: RFC 7230 quoted-strings unescaped, then one round of
    percent-decoding whose bytes must be UTF-8. `ValueError` says what is wrong."""
    bad = _NOT_HEADER_TEXT.search(raw)
    if bad:
        raise ValueError(f"holds the character {_codepoint(bad.group())}, which an HTTP header "
                         "may not carry: percent-encode it as UTF-8")
    if '"' in raw:
        raw = _unquote_quoted_strings(raw)
    if "%" not in raw:
        return raw
    try:
        return unquote(raw, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise ValueError("is not valid UTF-8 once percent-decoded") from None


def _unquote_quoted_strings(raw: str) -> str:
    out: list[str] = []
    index, end = 0, len(raw)
    while index < end:
        char = raw[index]
        index += 1
        if char != '"':
            out.append(char)
            continue
        while True:
            if index >= end:
                raise ValueError("has a double-quoted string that does not end")
            char = raw[index]
            index += 1
            if char == '"':
                break
            if char == "\\" and index < end:
                char = raw[index]
                index += 1
            out.append(char)
    return "".join(out)


def _binary_data(media: tuple[str, dict[str, str]] | None, content_type: str,
                 body: bytes) -> Any:
    """The data of a binary-mode body: JSON, text or bytes, by its media type."""
    if not body:
        return None
    if media is None:
        return bytes(body)  # no Content-Type: no assumption about the bytes (JSON format §3.1.1)
    kind, params = media
    if is_json_media(kind):
        return parse_json(body, "data") if body.strip() else None
    charset = params.get("charset")
    if charset is None and not kind.startswith("text/"):
        return bytes(body)
    try:
        text = body.decode(charset or "utf-8")
    except UnicodeDecodeError:
        if charset is None:
            return bytes(body)
        raise InvalidArgument("data", f"is not valid {_quote(charset)} text, as the "
                                      f"Content-Type {_quote(content_type)} declares") from None
    except (LookupError, ValueError):
        return bytes(body)  # a charset Python cannot read: the bytes, as sent
    try:
        json_doc.check(text, "data")
    except InvalidArgument:
        return bytes(body)  # text that JSON could not store (a NUL): kept as the bytes
    return text


# -- structured and batch mode (JSON format) --------------------------------------------------


def _parse_structured(body: bytes) -> InboundEvent:
    # The strict read (NaN, surrogates, depth...) first: its errors name `body`.
    document = parse_json(body)
    if not isinstance(document, dict):
        raise InvalidArgument("body", "must be a JSON object: one CloudEvent")
    return from_json(document, duplicates=_duplicate_members(body))


def _parse_batch(body: bytes) -> list[InboundEvent]:
    items = parse_json(body)
    if not isinstance(items, list):
        raise InvalidArgument("body", "must be a JSON array of CloudEvents (batch mode)")
    members = _duplicate_members(body, batch=True) if items else []
    events = []
    for index, item in enumerate(items):
        where = f" (batch event {index})"
        if not isinstance(item, dict):
            raise InvalidArgument(f"body[{index}]",
                                  f"must be a JSON object: one CloudEvent, not {_kind(item)}"
                                  f"{where}")
        events.append(from_json(item, where, members[index]))
    return events


def from_json(document: Mapping[str, Any], where: str = "",
              duplicates: tuple[str, ...] = ()) -> InboundEvent:
    """One event in the JSON format, already parsed (by `json_doc`, or built from the protobuf
    format): its attributes checked, `null` ones left out, its data read."""
    problems = [(name, f"appears more than once: an attribute appears at most once{where}")
                for name in duplicates]
    attributes: dict[str, Any] = {}
    for name, value in document.items():
        if name in ("data", "data_base64"):
            continue
        problem = attribute_name_problem(name)
        if problem and name:
            problems.append((name, problem + where))
        elif problem:
            problems.append(("body", f'has a member named "": it {problem}{where}'))
        elif value is not None:
            attributes[name] = value
    if problems:
        raise InvalidArgument(problems)
    checked = _checked_attributes(attributes, where)
    data, has_data = _json_data(document, checked.get("datacontenttype"), where)
    return _event(checked, data, has_data)


def _json_data(document: Mapping[str, Any], datacontenttype: str | None,
               where: str) -> tuple[Any, bool]:
    encoded = document.get("data_base64")
    if "data" in document:
        if encoded is not None:
            raise InvalidArgument("data_base64", "must not be sent together with data: an "
                                                 f"event carries one or the other{where}")
        data = document["data"]
        if not isinstance(data, str | None) and not declares_json(datacontenttype):
            raise InvalidArgument("data", f"must be a string, not {_kind(data)}: the "
                                          f"datacontenttype {_quote(datacontenttype or '')} "
                                          f"does not declare JSON{where}")
        return data, True
    if encoded is None:
        return None, False
    if not isinstance(encoded, str):
        raise InvalidArgument("data_base64", f"must be a string of Base64 (RFC 4648), not "
                                             f"{_kind(encoded)}{where}")
    try:
        return base64.b64decode(encoded, validate=True), True
    except (binascii.Error, ValueError):
        raise InvalidArgument("data_base64", f"is not valid Base64 (RFC 4648){where}") from None


class _Members(dict):
    """A JSON object that remembers the member names it was given more than once."""

    duplicates: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, Any]]) -> _Members:
    members = _Members(pairs)
    if len(members) != len(pairs):
        seen: set[str] = set()
        repeated: list[str] = []
        for name, _ in pairs:
            if name in seen:
                repeated.append(name)
            seen.add(name)
        members.duplicates = tuple(dict.fromkeys(repeated))
    return members


def _duplicate_members(body: bytes, batch: bool = False) -> Any:
    """The attribute names given twice in the event (or each event of a batch). `json_doc` has
    already read the body strictly, and keeps the last of repeated names, as `json` does; this
    second read only finds the repeats."""
    document = json.loads(body.decode("utf-8"), object_pairs_hook=_object)
    if batch:
        return [getattr(item, "duplicates", ()) for item in document]
    return document.duplicates


# -- attributes -------------------------------------------------------------------------------

_NAME = re.compile(r"[a-z0-9]+")
_NOT_HEADER_TEXT = re.compile(r"[^\t\x20-\x7e]")
# CloudEvents String: no control characters, no noncharacters, no lone surrogates.
_NOT_STRING = re.compile(
    "[\x00-\x1f\x7f-\x9f\ufdd0-\ufdef\ud800-\udfff"
    + "".join(f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}"
              for plane in range(17))
    + "]")


def attribute_name_problem(name: str) -> str | None:
    """Why `name` cannot be a CloudEvents attribute name, or None (spec §"Naming Conventions")."""
    if name == "data":
        return "is reserved: data is the event's payload, not an attribute"
    if not _NAME.fullmatch(name):
        return ("is not a valid attribute name: CloudEvents attribute names are lowercase "
                "letters a-z and digits 0-9")
    return None


def _checked_attributes(attributes: dict[str, Any], where: str = "") -> dict[str, Any]:
    """The attributes, each checked against its type; `time` becomes a datetime (its text is
    kept as `time_text`)."""
    problems = [(name, f"is required: {CORE_TYPES[name]}{where}")
                for name in REQUIRED if name not in attributes]
    checked: dict[str, Any] = {}
    for name, value in attributes.items():
        rule = _RULES.get(name, _extension)
        try:
            checked[name] = rule(value)
        except ValueError as exc:
            problems.append((name, f"{exc}{where}"))
    if problems:
        raise InvalidArgument(problems)
    if "time" in checked:
        checked["time_text"] = attributes["time"]
    return checked


def _string(value: Any, what: str = "a String", nonempty: bool = True,
            optional: bool = True) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be {what}, not {_kind(value)}")
    if nonempty and not value:
        raise ValueError("must not be empty" + (
            " (leave it out, or send null, when it has no value)" if optional else ""))
    bad = _NOT_STRING.search(value)
    if bad:
        raise ValueError(f"holds {_codepoint(bad.group())}, which a CloudEvents String may not "
                         "hold (no control characters, noncharacters or lone surrogates)")
    return value


def _specversion(value: Any) -> str:
    if value != SPECVERSION:
        sent = _quote(value) if isinstance(value, str) else _kind(value)
        raise ValueError(f'must be "1.0" (this is a CloudEvents 1.0 receiver), not {sent}')
    return value


def _source(value: Any) -> str:
    text = _string(value, CORE_TYPES["source"], optional=False)
    if not is_uri_reference(text):
        raise ValueError(f"must be a URI-reference (RFC 3986), such as /mycontext or "
                         f"https://example.com/orders: {_quote(text)} is not one")
    return text


def _dataschema(value: Any) -> str:
    text = _string(value, CORE_TYPES["dataschema"])
    if not is_uri(text):
        raise ValueError(f"must be an absolute URI (RFC 3986), such as "
                         f"https://example.com/schema.json: {_quote(text)} is not one")
    return text


def _datacontenttype(value: Any) -> str:
    text = _string(value, CORE_TYPES["datacontenttype"])
    if not is_media_type(text):
        raise ValueError(f"must be a media type (RFC 2046), such as application/json or "
                         f"text/plain; charset=utf-8: {_quote(text)} is not one")
    return text


def _time(value: Any) -> datetime:
    text = _string(value, CORE_TYPES["time"])
    moment = parse_timestamp(text)
    if moment is None:
        raise ValueError(f"must be an RFC 3339 timestamp, such as 2018-04-05T17:31:00Z: "
                         f"{_quote(text)} is not one")
    return moment


def _extension(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise ValueError(f"is an Integer outside the CloudEvents range {INT_MIN}.."
                             f"{INT_MAX} (signed 32 bits)")
        return value
    if isinstance(value, float):
        raise ValueError(f"must be {_EXTENSION_TYPE}: a JSON number with a fraction or an "
                         "exponent is none of these (an Integer is written without them)")
    return _string(value, _EXTENSION_TYPE, nonempty=False)


_RULES = {
    "id": lambda value: _string(value, CORE_TYPES["id"], optional=False),
    "type": lambda value: _string(value, CORE_TYPES["type"], optional=False),
    "subject": lambda value: _string(value, CORE_TYPES["subject"]),
    "specversion": _specversion,
    "source": _source,
    "dataschema": _dataschema,
    "datacontenttype": _datacontenttype,
    "time": _time,
}


# -- the type system's string encodings -------------------------------------------------------

_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
                      r"(?:([Zz])|([+-])(\d{2}):(\d{2}))", re.ASCII)


def parse_timestamp(text: str) -> datetime | None:
    """An RFC 3339 `date-time` (`2018-04-05T17:31:00Z`, `...00.5+02:00`), or None. Fractions
    beyond microseconds are cut (the text is kept); a leap second `:60` reads as `:59`."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
    micros = int((match.group(7) or "").ljust(6, "0")[:6])
    if match.group(8):
        zone = UTC
    else:
        hours, minutes = int(match.group(10)), int(match.group(11))
        if hours > 23 or minutes > 59:
            return None
        offset = timedelta(hours=hours, minutes=minutes)
        zone = timezone(offset if match.group(9) == "+" else -offset)
    if second == 60:
        second = 59
    try:
        return datetime(year, month, day, hour, minute, second, micros, zone)
    except ValueError:
        return None


# RFC 3986 §3 and §4.1, as regular expressions (each part excludes the delimiter after it, so
# matching is linear).
_PCT = r"%[0-9A-Fa-f]{2}"
_SUB = r"!$&'()*+,;="
_UNRESERVED = r"A-Za-z0-9\-._~"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB}:@]|{_PCT})"
_SEGMENT_NC = rf"(?:[{_UNRESERVED}{_SUB}@]|{_PCT})+"
_QUERY = rf"(?:{_PCHAR}|[/?])*"
_USERINFO = rf"(?:[{_UNRESERVED}{_SUB}:]|{_PCT})*"
_HOST = (rf"(?:\[(?:[0-9A-Fa-f:.]+|v[0-9A-Fa-f]+\.[{_UNRESERVED}{_SUB}:]+)\]"
         rf"|(?:[{_UNRESERVED}{_SUB}]|{_PCT})*)")
_AUTHORITY = rf"(?:{_USERINFO}@)?{_HOST}(?::[0-9]*)?"
_PATH_AFTER = rf"(?:/{_PCHAR}*)*"
_TAIL = rf"(?:\?{_QUERY})?(?:#{_QUERY})?"
_URI = re.compile(
    rf"[A-Za-z][A-Za-z0-9+\-.]*:(?://{_AUTHORITY}{_PATH_AFTER}|/?(?:{_PCHAR}+{_PATH_AFTER})?)"
    rf"{_TAIL}", re.ASCII)
_RELATIVE_REF = re.compile(
    rf"(?://{_AUTHORITY}{_PATH_AFTER}|/?(?:{_SEGMENT_NC}{_PATH_AFTER})?|/){_TAIL}", re.ASCII)


def is_uri(text: str) -> bool:
    """An RFC 3986 URI: a scheme, then the rest (a fragment is allowed, as the CloudEvents JSON
    schema's `format: uri` allows it)."""
    return _URI.fullmatch(text) is not None


def is_uri_reference(text: str) -> bool:
    """An RFC 3986 URI-reference: a URI or a relative reference (`/a/b`, `1-555-123-4567`)."""
    return is_uri(text) or _RELATIVE_REF.fullmatch(text) is not None


def is_json_media(kind: str) -> bool:
    """Whether a media type (without parameters) declares JSON: `*/json` or `*/*+json`."""
    subtype = kind.partition("/")[2]
    return subtype == "json" or subtype.endswith("+json")


def declares_json(datacontenttype: str | None) -> bool:
    """Whether an event's `data` is JSON: no `datacontenttype` implies `application/json`
    (JSON format §3.1), and any `*/json` or `*/*+json` type declares it."""
    return datacontenttype is None or is_json_media(media(datacontenttype)[0])


# -- the SDK's event model --------------------------------------------------------------------


class _ReceivedEvent(CloudEvent):
    """The SDK's v1.0 event without its sender-side defaults (a received event carries its own
    `id` and `specversion`, and a `time` the sender left out stays unset), its validation
    errors told as `InvalidArgument` in the spec's words."""

    def __init__(self, attributes: dict[str, Any], data: Any = None) -> None:
        missing = [(name, f"is required: {CORE_TYPES[name]}") for name in REQUIRED
                   if name not in attributes]
        if missing:
            raise InvalidArgument(missing)
        self.time_was_sent = "time" in attributes
        try:
            super().__init__(attributes, data)
        except CloudEventValidationError as exc:
            raise InvalidArgument(sdk_violations(exc)) from None


def sdk_violations(exc: CloudEventValidationError) -> list[tuple[str, str]]:
    """The SDK's validation errors as (attribute, rule) pairs. Its own messages are not passed
    on: they speak of Python types (`must be a <class 'str'>`)."""
    violations = []
    for name, errors in exc.errors.items():
        rules = dict.fromkeys(_sdk_rule(name, error) for error in errors)
        violations.append((name, "; ".join(rules)))
    return violations


def _sdk_rule(name: str, error: Exception) -> str:
    expected = CORE_TYPES.get(name, _EXTENSION_TYPE)
    if isinstance(error, MissingRequiredAttributeError):
        return f"is required: {expected}"
    if isinstance(error, CustomExtensionAttributeError):
        return attribute_name_problem(name) or "is not a valid extension attribute"
    if isinstance(error, InvalidAttributeTypeError):
        return f"must be {expected}"
    if name == "specversion":
        return 'must be "1.0" (this is a CloudEvents 1.0 receiver)'
    if name == "time":
        return "must be an RFC 3339 timestamp, with its UTC offset"
    return f"must be {expected}"


def _event(checked: dict[str, Any], data: Any, has_data: bool) -> InboundEvent:
    time_text = checked.pop("time_text", None)
    event = _ReceivedEvent(dict(checked), data)
    attributes = event.get_attributes()
    return InboundEvent(
        id=event.get_id(),
        source=event.get_source(),
        type=event.get_type(),
        specversion=event.get_specversion(),
        subject=event.get_subject(),
        time=event.get_time() if event.time_was_sent else None,
        datacontenttype=event.get_datacontenttype(),
        dataschema=event.get_dataschema(),
        data=event.get_data(),
        extensions={k: v for k, v in attributes.items() if k not in _CORE},
        time_text=time_text,
        has_data=has_data,
    )


# -- small helpers ----------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a value of another kind"


def _codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"


def _quote(text: str, limit: int = 60) -> str:
    """A value in an error message: JSON-quoted (so control characters show as escapes) and
    cut when long."""
    short = text if len(text) <= limit else text[:limit] + "..."
    return json.dumps(short)


def _rfc3339(moment: datetime) -> str:
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
