"""A trigger's conditions evaluated against the triggering payload (SPEC §6): every condition
must hold. A condition's `field` is a JSONPath (jsonpath_ng.ext) into the payload; it holds
when at least one value the path selects passes the operation:

    equals   the value equals `value` (JSON equality: 1 == 1.0, but true is not 1)
    matches  `re.search(value, text)`, where text is the value itself for a string and its
             JSON form otherwise (`true`, `42`, `{"a": 1}`)
    in       the value equals one of `values`

A path that selects nothing makes the condition fail.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from typing import Any

from jsonpath_ng.ext import parse as parse_jsonpath

from flowhooks_server.domain.workflows import Condition


@functools.lru_cache(maxsize=1024)
def _path(expression: str):
    return parse_jsonpath(expression)


@functools.lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


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
    return any(_passes(condition, value) for value in matches)


def _passes(condition: Condition, value: Any) -> bool:
    if condition.operation == "equals":
        return _equal(value, condition.value)
    if condition.operation == "in":
        return any(_equal(value, candidate) for candidate in condition.values or ())
    if condition.operation == "matches":
        if not isinstance(condition.value, str):
            return False
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        return _regex(condition.value).search(text) is not None
    return False


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
