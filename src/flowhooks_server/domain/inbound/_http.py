"""The HTTP shapes every inbound parser shares: case-insensitive headers, the media type of a
Content-Type, and a JSON body whose errors name `body`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flowhooks_server.domain.errors import InvalidArgument

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def media_type(headers: Mapping[str, str]) -> str:
    """`application/cloudevents+json; charset=utf-8` -> `application/cloudevents+json`."""
    return lower_headers(headers).get("content-type", "").split(";", 1)[0].strip().lower()


def parse_json(body: bytes | str, field: str = "body") -> Any:
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidArgument(field, f"is not valid JSON ({_where(exc)})") from None


def _where(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return "not UTF-8"
