"""Trigger conditions against a payload (SPEC §6): JSONPath (jsonpath_ng.ext) with equals,
matches and in; all must hold; a path that selects nothing fails."""

import pytest

from flowhooks_server.domain.conditions import all_hold, first_failing, holds
from flowhooks_server.domain.workflows import Condition

EVENT = {"type": "com.example.deploy", "subject": "svc-a", "count": 3, "flag": True,
         "data": {"env": "prod", "tags": ["a", "b"], "items": [{"n": 1}, {"n": 5}]}}


@pytest.mark.parametrize(("condition", "expected"), [
    (Condition("$.type", "equals", "com.example.deploy"), True),
    (Condition("$.type", "equals", "com.example.other"), False),
    (Condition("$.count", "equals", 3.0), True),
    (Condition("$.flag", "equals", 1), False),
    (Condition("$.flag", "equals", True), True),
    (Condition("$.data.env", "matches", "^pro"), True),
    (Condition("$.data.env", "matches", "^dev"), False),
    (Condition("$.count", "matches", "^3$"), True),
    (Condition("$.flag", "matches", "^true$"), True),
    (Condition("$.data.env", "in", values=("staging", "prod")), True),
    (Condition("$.data.env", "in", values=("staging",)), False),
    (Condition("$.data.tags[*]", "equals", "b"), True),
    (Condition("$.data.items[?(@.n > 3)].n", "equals", 5), True),
    (Condition("$.data.missing", "equals", None), False),
    (Condition("$.nothing", "matches", ".*"), False),
    (Condition("$.data", "equals", {"env": "prod"}), False),
])
def test_operations(condition, expected):
    assert holds(condition, EVENT) is expected


def test_all_must_hold():
    ok = Condition("$.type", "equals", "com.example.deploy")
    bad = Condition("$.subject", "equals", "svc-b")
    assert all_hold([ok], EVENT) and all_hold([], EVENT)
    assert not all_hold([ok, bad], EVENT)
    assert first_failing([ok, bad], EVENT) is bad
    assert first_failing([ok], EVENT) is None


def test_non_object_payloads():
    assert holds(Condition("$[0]", "equals", 1), [1, 2])
    assert not holds(Condition("$.a", "equals", 1), "text")
    assert not holds(Condition("$.a", "equals", 1), None)
