"""CloudEvents 1.0 received over HTTP (SPEC §6, `POST /api/v2/event`), in the three content modes:

- structured: `Content-Type: application/cloudevents+json`, the whole event in the body;
- batch: `Content-Type: application/cloudevents-batch+json`, a JSON array of structured events;
- binary: attributes in `ce-*` headers, `Content-Type` as `datacontenttype`, the body as `data`.

The SDK (`cloudevents.core`) does the decoding and its v1.0 validation. What it adds for a sender
is taken back out: a received event must carry its own `id` and `specversion`, and a `time` the
sender left out stays unset. Every failure is an `InvalidArgument` naming the attribute at fault.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from cloudevents.core.bindings.http import HTTPMessage, from_binary, from_structured
from cloudevents.core.exceptions import CloudEventValidationError
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from flowhooks_server.domain.errors import InvalidArgument
from flowhooks_server.domain.inbound._http import lower_headers, media_type, parse_json

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
SPECVERSION = "1.0"
REQUIRED = ("id", "source", "type", "specversion")
_CORE = frozenset({*REQUIRED, "subject", "time", "datacontenttype", "dataschema"})
_JSON_MEDIA = frozenset({"", "application/json", "text/json"})

Mode = Literal["structured", "batch", "binary"]


@dataclass(frozen=True)
class InboundEvent:
    """A received CloudEvent, as plain data."""

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
            out["time"] = _rfc3339(self.time)
        out.update(self.extensions)
        if isinstance(self.data, bytes):
            out["data_base64"] = base64.b64encode(self.data).decode("ascii")
        elif self.data is not None:
            out["data"] = self.data
        return out


def content_mode(headers: Mapping[str, str]) -> Mode:
    """The content mode of a request. A CloudEvents media type wins over `ce-*` headers, as the
    HTTP binding says; a plain JSON body without `ce-*` headers is read as structured, which the
    Boomerang route accepted (`Content-Type: application/json`)."""
    kind = media_type(headers)
    if kind == BATCH:
        return "batch"
    if kind == STRUCTURED:
        return "structured"
    if any(name.startswith("ce-") for name in lower_headers(headers)):
        return "binary"
    if kind in _JSON_MEDIA or kind.endswith("+json"):
        return "structured"
    raise InvalidArgument(
        "Content-Type",
        f"{kind!r} is not a CloudEvents request: send {STRUCTURED}, {BATCH}, "
        "or binary mode with ce-* headers",
    )


def parse_http(headers: Mapping[str, str], body: bytes) -> list[InboundEvent]:
    """Every event of one HTTP request, in order (one, except in batch mode)."""
    mode = content_mode(headers)
    if mode == "binary":
        return [_parse_binary(headers, body)]
    if mode == "structured":
        return [_parse_structured(body)]
    return _parse_batch(body)


def _parse_binary(headers: Mapping[str, str], body: bytes) -> InboundEvent:
    kind = media_type(headers)
    if body.strip() and (kind in _JSON_MEDIA or kind.endswith("+json")):
        parse_json(body, "data")
    try:
        event = from_binary(HTTPMessage(headers=dict(headers), body=body), JSONFormat(),
                            _ReceivedEvent)
    except ValueError:
        # The SDK parses `ce-time` before our factory sees the attributes.
        raise InvalidArgument("time", "is not an RFC 3339 timestamp") from None
    return _to_inbound(event)


def _parse_structured(body: bytes | str, where: str = "") -> InboundEvent:
    # The strict read first (NaN, surrogates, depth...), which the SDK's json.loads lacks.
    if not isinstance(parse_json(body), dict):
        raise InvalidArgument("body", f"must be a JSON object: one CloudEvent{where}")
    try:
        event = from_structured(HTTPMessage(headers={}, body=_bytes(body)), JSONFormat(),
                                _ReceivedEvent)
    except InvalidArgument as exc:
        if not where:
            raise
        raise InvalidArgument([(name, desc + where) for name, desc in exc.violations]) from None
    except (ValueError, TypeError):
        # The SDK's JSON format decodes `time` and `data_base64` before our factory runs.
        raise _format_error(body, where) from None
    return _to_inbound(event)


def _parse_batch(body: bytes) -> list[InboundEvent]:
    items = parse_json(body)
    if not isinstance(items, list):
        raise InvalidArgument("body", "must be a JSON array of CloudEvents (batch mode)")
    if not items:
        raise InvalidArgument("body", "holds no CloudEvent (empty batch)")
    events = []
    for index, item in enumerate(items):
        where = f" (batch event {index})"
        if not isinstance(item, dict):
            raise InvalidArgument("body", f"must hold JSON objects{where}")
        # The SDK has no batch reader; each member goes through its structured JSON format.
        events.append(_parse_structured(json.dumps(item), where))
    return events


class _ReceivedEvent(CloudEvent):
    """The SDK's v1.0 event without its sender-side defaults, failing as `InvalidArgument`."""

    def __init__(self, attributes: dict[str, Any], data: Any = None) -> None:
        missing = [(name, "is required") for name in REQUIRED
                   if name not in attributes]
        if missing:
            raise InvalidArgument(missing)
        self.time_was_sent = "time" in attributes
        try:
            super().__init__(attributes, data)
        except CloudEventValidationError as exc:
            raise InvalidArgument([
                (name, "; ".join(str(error) for error in errors))
                for name, errors in exc.errors.items()
            ]) from None


def _to_inbound(event: _ReceivedEvent) -> InboundEvent:
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
    )


def _format_error(body: bytes | str, where: str) -> InvalidArgument:
    attributes = parse_json(body)
    if "data_base64" in attributes and "data" not in attributes:
        try:
            base64.b64decode(attributes["data_base64"])
        except (ValueError, TypeError):
            return InvalidArgument("data_base64", f"is not valid base64{where}")
    return InvalidArgument("time", f"is not an RFC 3339 timestamp{where}")


def _bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def _rfc3339(moment: datetime) -> str:
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
