"""Checks every request message gets before its servicer runs, whatever the RPC (SPEC §4).

One rule lives here, for every RPC at once instead of in each servicer: **no string field
holds a NUL character.** PostgreSQL cannot store one in `text` or `jsonb` (the write fails with
a 500), SQLite stores it and then every delivery that sends it fails (aiohttp refuses a header
`a\\u0000b`), and nothing a caller means ever holds one. So a NUL anywhere gives 400 naming the
field, on both databases alike, before anything is read or written.

`nul_refusals(message)` walks what the request holds:

- every string field, singular, repeated, or in a oneof;
- maps: their string keys and their values;
- nested messages, recursively;
- `google.protobuf.Struct` / `Value` / `ListValue` (JSON carried in the request: workflow
  params, condition values, Socotra header lists): their string values and object keys.

It skips `bytes` fields and `google.api.HttpBody`: a raw body is JSON, form or binary data
that its own parser checks (domain/json_doc.py refuses a `\\u0000` inside JSON strings).

Field paths are those of the request's JSON form, as a REST caller wrote them: lowerCamelCase
names joined by dots, `[i]` for list items, `["key"]` for map entries (`endpoint.headers["X-A"]`,
the key JSON-quoted, so a NUL in a key reads `headers["a\\u0000b"]`), and `.key` for the
members of a Struct (`params.env`; `["key"]` when the key is not identifier-like). All methods'
HTTP rules take `body: "*"` or an HttpBody field, so a path is relative to the request message.

Cost: the walk visits only fields that are set (`ListFields`, in C), and only those that can
hold a string, per a plan made once per message type. On the hot path, `POST /api/v2/webhook`,
that is the two or three short query strings beside the HttpBody: a few microseconds.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from flowhooks_server.domain.errors import InvalidArgument

NUL_DESCRIPTION = "must not contain a NUL character (\\u0000)"
MAX_REPORTED = 20  # a request full of NULs is named by its first few fields

# Message types whose contents are never walked: raw bodies, checked by their own parsers.
SKIPPED_TYPES = frozenset({"google.api.HttpBody"})
_STRUCT = "google.protobuf.Struct"
_VALUE = "google.protobuf.Value"
_LIST_VALUE = "google.protobuf.ListValue"
_JSON_TYPES = frozenset({_STRUCT, _VALUE, _LIST_VALUE})

# What to do with a field that is set, by plan.
_STRING, _STRINGS, _MESSAGE, _MESSAGES, _MAP = range(5)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_request(message: Message) -> None:
    """Raise InvalidArgument naming every field (up to MAX_REPORTED) that holds a NUL."""
    problems = nul_refusals(message)
    if problems:
        raise InvalidArgument(problems)


def nul_refusals(message: Message) -> list[tuple[str, str]]:
    """(field path, description) of every string in `message` that holds a NUL."""
    found: list[str] = []
    _walk(message, "", found)
    return [(path, NUL_DESCRIPTION) for path in found[:MAX_REPORTED]]


def _walk(message: Message, at: str, found: list[str]) -> None:
    descriptor = message.DESCRIPTOR
    name = descriptor.full_name
    if name in _JSON_TYPES:
        _walk_json(message, name, at, found)
        return
    plan = _plan(descriptor)
    if not plan:
        return
    for field, value in message.ListFields():
        step = plan.get(field.number)
        if step is None:
            continue
        kind, json_name, map_value_kind = step
        path = f"{at}.{json_name}" if at else json_name
        if kind == _STRING:
            if "\x00" in value:
                found.append(path)
        elif kind == _STRINGS:
            found.extend(f"{path}[{i}]" for i, item in enumerate(value) if "\x00" in item)
        elif kind == _MESSAGE:
            _walk(value, path, found)
        elif kind == _MESSAGES:
            for i, item in enumerate(value):
                _walk(item, f"{path}[{i}]", found)
        else:
            _walk_map(value, path, map_value_kind, found)
        if len(found) >= MAX_REPORTED:
            return


def _walk_map(entries, at: str, value_kind: int | None, found: list[str]) -> None:
    for key, value in entries.items():
        path = f"{at}[{json.dumps(str(key))}]"
        if isinstance(key, str) and "\x00" in key:
            found.append(path)
        if value_kind == _STRING:
            if "\x00" in value:
                found.append(path)
        elif value_kind == _MESSAGE:
            _walk(value, path, found)


def _walk_json(message: Any, type_name: str, at: str, found: list[str]) -> None:
    """A Struct, Value or ListValue, named as the JSON it stands for."""
    stack = [(message, type_name, at)]
    while stack and len(found) < MAX_REPORTED:
        node, kind, path = stack.pop()
        if kind == _STRUCT:
            members = []
            for key, value in node.fields.items():
                member = (f"{path}.{key}" if path else key) if _IDENTIFIER.fullmatch(key) \
                    else f"{path}[{json.dumps(key)}]"
                if "\x00" in key:
                    found.append(member)
                members.append((value, _VALUE, member))
            stack.extend(reversed(members))  # so they are reported in order
        elif kind == _LIST_VALUE:
            stack.extend(reversed([(item, _VALUE, f"{path}[{i}]")
                                   for i, item in enumerate(node.values)]))
        else:
            which = node.WhichOneof("kind")
            if which == "string_value":
                if "\x00" in node.string_value:
                    found.append(path)
            elif which == "struct_value":
                stack.append((node.struct_value, _STRUCT, path))
            elif which == "list_value":
                stack.append((node.list_value, _LIST_VALUE, path))


@functools.cache
def _plan(descriptor: Descriptor) -> dict[int, tuple[int, str, int | None]]:
    """{field number: (kind, JSON name, kind of a map's values)} for the fields of a message
    type that can hold a string; empty when none can."""
    plan: dict[int, tuple[int, str, int | None]] = {}
    for field in descriptor.fields:
        repeated = field.is_repeated
        if field.type == FieldDescriptor.TYPE_STRING:
            plan[field.number] = (_STRINGS if repeated else _STRING, field.json_name, None)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            target = field.message_type
            if target.GetOptions().map_entry:
                key, value = target.fields_by_name["key"], target.fields_by_name["value"]
                value_kind = (_STRING if value.type == FieldDescriptor.TYPE_STRING
                              else _MESSAGE if value.type == FieldDescriptor.TYPE_MESSAGE
                              and _may_hold_strings(value.message_type) else None)
                if key.type == FieldDescriptor.TYPE_STRING or value_kind is not None:
                    plan[field.number] = (_MAP, field.json_name, value_kind)
            elif _may_hold_strings(target):
                plan[field.number] = (_MESSAGES if repeated else _MESSAGE, field.json_name,
                                      None)
    return plan


def _may_hold_strings(descriptor: Descriptor, visiting: frozenset[str] = frozenset()) -> bool:
    name = descriptor.full_name
    if name in SKIPPED_TYPES:
        return False
    if name in _JSON_TYPES or name in visiting:
        return True  # a recursive type: assume so, the walk finds out
    visiting = visiting | {name}
    for field in descriptor.fields:
        if field.type == FieldDescriptor.TYPE_STRING:
            return True
        if field.type == FieldDescriptor.TYPE_MESSAGE and _may_hold_strings(
                field.message_type, visiting):
            return True
    return False
