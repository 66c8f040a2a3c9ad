"""The strict reading of every JSON document a caller sends (SPEC §4: JSON that is accepted
can always be read back and delivered).

`loads(body, field)` parses like `json.loads` and then refuses, as `InvalidArgument` naming
`field` (and the path inside it), what could not be stored on both databases, rendered back
through protobuf, or delivered as valid JSON:

- `NaN`, `Infinity`, `-Infinity`, and numbers that overflow a double (`1e400`, 400 digits);
- integers of more digits than Python reads (`ValueError` from its 4,300-digit guard);
- invalid UTF-8, and lone UTF-16 surrogates written as escapes (`"\\ud800"`);
- NUL characters in strings and keys (`"\\u0000"`: PostgreSQL's jsonb cannot hold them);
- nesting deeper than `MAX_DEPTH` (also the 100,000 `[` that make the parser recurse away).

Numbers keep their value: integers stay Python `int` of any size (so `1` stays `1` and
2^53 + 1 stays exact in stored params, events and delivery bodies); other numbers are the
nearest double, written back in its shortest form.

The checks that need a walk over the parsed document run only when the raw bytes could hold
what they look for (`bytes.count` and `in` are C loops): a body with at most `MAX_DEPTH`
brackets cannot nest too deep, and one without `\\u` escapes cannot hold a surrogate or a NUL.
So the common small payload costs one `json.loads`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from flowhooks_server.domain.errors import InvalidArgument

MAX_DEPTH = 64
# A double ends near 1.8e308: only a literal of 309 digits or more, or one with an exponent of
# three digits or more, can overflow one.
_LONG_NUMBER = re.compile(rb"\d{309,}")
_BIG_EXPONENT = re.compile(rb"[0-9.][eE][+-]?\d{3,}")
_ESCAPES = (b"\\ud8", b"\\ud9", b"\\uda", b"\\udb", b"\\udc", b"\\udd", b"\\ude", b"\\udf",
            b"\\uD8", b"\\uD9", b"\\uDA", b"\\uDB", b"\\uDC", b"\\uDD", b"\\uDE", b"\\uDF",
            b"\\u0000")
_DOUBLE_MAX = 1.7976931348623157e308


class _Refused(ValueError):
    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


def _constant(name: str) -> Any:
    raise _Refused(f"holds {name}, which JSON does not allow")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Refused(f"holds the number {_short(text)}, which overflows a double")
    return value


def _int(text: str) -> int:
    value = int(text)
    if abs(value) > _DOUBLE_MAX:
        raise _Refused(f"holds the number {_short(text)}, which overflows a double")
    return value


def loads(body: bytes | str, field: str = "body") -> Any:
    """The document in `body`, or `InvalidArgument` naming `field` and what is wrong."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    long_numbers = _LONG_NUMBER.search(raw) is not None
    big = long_numbers or _BIG_EXPONENT.search(raw) is not None
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_constant,
                              parse_float=_float if big else None,
                              parse_int=_int if long_numbers else None)
    except _Refused as exc:
        raise InvalidArgument(field, exc.description) from None
    except RecursionError:
        raise InvalidArgument(field, f"nests deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise InvalidArgument(field, f"is not valid JSON ({exc.msg} at line {exc.lineno} "
                                     f"column {exc.colno})") from None
    except UnicodeDecodeError:
        raise InvalidArgument(field, "is not valid UTF-8") from None
    except ValueError:  # Python's guard against integers of more than 4,300 digits
        raise InvalidArgument(field, "holds an integer of more than 4,300 digits") from None
    deep = raw.count(b"[") + raw.count(b"{") > MAX_DEPTH
    escaped = b"\\u" in raw and any(e in raw for e in _ESCAPES)
    if deep or escaped:
        check(document, field)
    return document


def check(document: Any, field: str = "body") -> None:
    """Refuse a parsed document (from `json.loads` or a protobuf Struct) that breaks the rules
    above: too deep, a non-finite number, a lone surrogate or NUL in a string or key."""
    stack: list[tuple[Any, str, int]] = [(document, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict):
            if depth > MAX_DEPTH:
                raise InvalidArgument(field, f"nests deeper than {MAX_DEPTH} levels")
            for key, item in value.items():
                _check_text(key, field, path)
                stack.append((item, f"{path}.{key}", depth + 1))
        elif isinstance(value, list):
            if depth > MAX_DEPTH:
                raise InvalidArgument(field, f"nests deeper than {MAX_DEPTH} levels")
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(value, field, path)
        elif isinstance(value, float) and not math.isfinite(value):
            raise InvalidArgument(_at(field, path), "holds a number that is not finite")


def dumps(document: Any) -> bytes:
    """Compact UTF-8 JSON of a checked document; `ValueError` for anything `check` refuses
    (a render of unchecked data fails loudly rather than sending invalid JSON)."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _check_text(text: str, field: str, path: str) -> None:
    if "\x00" in text:
        raise InvalidArgument(_at(field, path), "holds a NUL character (\\u0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument(_at(field, path),
                              "holds a lone UTF-16 surrogate, which is not Unicode text") from None


def _at(field: str, path: str) -> str:
    return f"{field}{path}" if path else field


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
