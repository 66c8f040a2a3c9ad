"""The HTTP shapes every inbound parser shares: case-insensitive headers, the media type of a
Content-Type (with its parameters, as RFC 2045 reads them), and a JSON body read strictly
(`domain.json_doc`) whose errors name `body`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flowhooks_server.domain import json_doc

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

_TOKEN = r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+"  # RFC 2045: no space, controls or tspecials
_QUOTED = r'"(?:[\t\x20\x21\x23-\x5b\x5d-\x7e]|\\[\t\x20-\x7e])*"'
_MEDIA_TYPE = re.compile(
    rf"({_TOKEN})/({_TOKEN})((?:[ \t]*;[ \t]*{_TOKEN}=(?:{_TOKEN}|{_QUOTED}))*)[ \t]*", re.ASCII)
_PARAMETER = re.compile(rf"({_TOKEN})=({_TOKEN}|{_QUOTED})", re.ASCII)


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def is_media_type(text: str) -> bool:
    """Whether `text` is a media type with optional parameters (RFC 2045 §5.1)."""
    return _MEDIA_TYPE.fullmatch(text) is not None


def media(content_type: str) -> tuple[str, dict[str, str]]:
    """`Text/Plain; CharSet="utf-8"` -> (`text/plain`, {`charset`: `utf-8`}); the media type
    and parameter names in lowercase, as RFC 2045 compares them. A value that is not a media
    type gives what precedes its first `;`, and no parameters."""
    match = _MEDIA_TYPE.fullmatch(content_type)
    if match is None:
        return content_type.split(";", 1)[0].strip().lower(), {}
    params = {}
    for name, value in _PARAMETER.findall(match.group(3)):
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[name.lower()] = value
    return f"{match.group(1)}/{match.group(2)}".lower(), params


def media_type(headers: Mapping[str, str]) -> str:
    """`application/cloudevents+json; charset=utf-8` -> `application/cloudevents+json`."""
    return media(lower_headers(headers).get("content-type", ""))[0]


def parse_json(body: bytes | str, field: str = "body") -> Any:
    return json_doc.loads(body, field)
