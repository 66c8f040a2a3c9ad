"""The HTTP shapes every inbound parser shares: case-insensitive headers, the media type of a
Content-Type, and a JSON body read strictly (`domain.json_doc`) whose errors name `body`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowhooks_server.domain import json_doc

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def media_type(headers: Mapping[str, str]) -> str:
    """`application/cloudevents+json; charset=utf-8` -> `application/cloudevents+json`."""
    return lower_headers(headers).get("content-type", "").split(";", 1)[0].strip().lower()


def parse_json(body: bytes | str, field: str = "body") -> Any:
    return json_doc.loads(body, field)
