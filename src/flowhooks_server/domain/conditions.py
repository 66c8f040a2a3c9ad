"""A trigger's conditions evaluated against the triggering payload (SPEC §6): every condition
must hold. A condition's `field` is a JSONPath (jsonpath_ng.ext) into the payload; it holds
when at least one value the path selects passes the operation:

    equals   the value equals `value` (JSON equality: 1 == 1.0, but true is not 1)
    matches  an unanchored search for the pattern `value` in text, where text is the value
             itself for a string and its JSON form otherwise (`true`, `42`, `{"a": 1}`, keys
             sorted), as `re.search` would do it
    in       the value equals one of `values`

A path that selects nothing makes the condition fail, and so does one that cannot be evaluated:
evaluation never raises.

Patterns run on RE2 (SPEC §4), so a search takes time linear in the text whatever the
pattern: `^(a+)+$` against 5,000 `a`s and a `!` answers in microseconds, where Python's
backtracking `re` would take longer than the age of the universe, holding the event loop and
every other tenant's request with it. The price is RE2's syntax, a subset of Python's:

- refused (`pattern_refusal` says why; workflow validation answers 400 naming the field):
  backreferences (`(a)\\1`), lookaround (`(?=a)`, `(?<!a)`), atomic groups and possessive
  repeats, conditionals, repeat counts above 1000, and patterns whose compiled program would
  exceed `MAX_PROGRAM_BYTES`;
- translated: Python's end-of-text `\\Z` is RE2's `\\z`;
- different: `\\d`, `\\w`, `\\s` and `\\b` are ASCII-only, and `$` (outside `(?m)`) matches
  only at the very end of the text, not also before a final newline.

A stored pattern that RE2 refuses (one written before this rule) matches nothing.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import re2
from jsonpath_ng.ext import parse as parse_jsonpath

if TYPE_CHECKING:
    from flowhooks_server.domain.workflows import Condition

MAX_PATTERN = 1024
# RE2's memory budget per pattern (program and search caches); past it a compile fails with
# "pattern too large". The default is 8 MiB; with the compile cache below that bounds what
# patterns can hold at 512 MiB in the worst case, and a few KiB each in practice.
MAX_PROGRAM_BYTES = 2 * 1024 * 1024
_OPTIONS = re2.Options()
_OPTIONS.max_mem = MAX_PROGRAM_BYTES
_OPTIONS.log_errors = False  # refusals are answered to the caller, not written to stderr


@functools.lru_cache(maxsize=1024)
def _path(expression: str):
    return parse_jsonpath(expression)


def _to_re2(pattern: str) -> str:
    r"""The RE2 spelling of a Python pattern: `\Z` becomes `\z` (escape pairs are read as
    pairs, so `\\Z`, a backslash then Z, stays)."""
    if "\\Z" not in pattern:
        return pattern
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            pair = pattern[i:i + 2]
            out.append("\\z" if pair == "\\Z" else pair)
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str):
    """The compiled RE2 program of a condition pattern; `re2.error` when RE2 refuses it."""
    return re2.compile(_to_re2(pattern), _OPTIONS)


def pattern_refusal(pattern: str) -> str | None:
    """Why `pattern` cannot be a `matches` pattern, or None when it can."""
    if len(pattern) > MAX_PATTERN:
        return f"must be at most {MAX_PATTERN} characters"
    try:
        compile_pattern(pattern)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "refused"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        return (f"is not a regular expression RE2 can run ({reason}); backreferences and "
                "lookaround are not supported")
    except (UnicodeError, TypeError, ValueError) as exc:
        return f"is not a valid regular expression: {exc}"
    return None


def all_hold(conditions: Iterable[Condition], payload: Any) -> bool:
    return all(holds(condition, payload) for condition in conditions)


def first_failing(conditions: Iterable[Condition], payload: Any) -> Condition | None:
    """The first condition that does not hold, or None when all do."""
    return next((c for c in conditions if not holds(c, payload)), None)


def holds(condition: Condition, payload: Any) -> bool:
    try:
        matches = [m.value for m in _path(condition.field).find(payload)]
    except Exception:  # noqa: BLE001 - a path that cannot be evaluated selects nothing
        return False
    try:
        return any(_passes(condition, value) for value in matches)
    except RecursionError:  # a value nested deeper than the interpreter's stack
        return False


def _passes(condition: Condition, value: Any) -> bool:
    if condition.operation == "equals":
        return _equal(value, condition.value)
    if condition.operation == "in":
        return any(_equal(value, candidate) for candidate in condition.values or ())
    if condition.operation == "matches":
        return _matches(condition.value, value)
    return False


def _matches(pattern: Any, value: Any) -> bool:
    if not isinstance(pattern, str):
        return False
    try:
        program = compile_pattern(pattern)
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    except (re2.error, TypeError, ValueError, RecursionError):
        return False  # a stored pattern RE2 refuses, or a value with no JSON form
    try:
        return program.search(text) is not None
    except UnicodeEncodeError:
        # A lone surrogate (refused at the API, possible in a stored or in-process payload):
        # search its bytes as Python keeps them; RE2 sees an invalid UTF-8 sequence there.
        return program.search(text.encode("utf-8", "surrogatepass")) is not None


def _equal(left: Any, right: Any) -> bool:
    """JSON equality: Python's `==`, except that booleans equal only booleans."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            _equal(a, b) for a, b in zip(left, right, strict=True))
    return left == right
