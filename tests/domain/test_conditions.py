"""Trigger conditions against a payload (SPEC §6): JSONPath (jsonpath_ng.ext) with equals,
matches and in; all must hold; a path that selects nothing fails. `matches` runs on RE2, in
linear time (SPEC §4); what RE2 cannot run is refused at validation."""

import pytest

from flowhooks_server.domain.conditions import all_hold, first_failing, holds, pattern_refusal
from flowhooks_server.domain.errors import InvalidArgument
from flowhooks_server.domain.workflows import Condition, Trigger, Triggers, WorkflowSpec, validate

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


# -- matches runs on RE2 (SPEC §4) ------------------------------------------------------------


def test_matches_is_an_unanchored_search():
    assert holds(Condition("$.type", "matches", "example"), EVENT)
    assert holds(Condition("$.type", "matches", r"deploy\Z"), EVENT)  # Python's \Z, as RE2's \z
    assert not holds(Condition("$.type", "matches", r"example\Z"), EVENT)
    assert holds(Condition("$.type", "matches", r"\\Z|deploy"), EVENT)  # a backslash, then Z


@pytest.mark.parametrize(("field", "pattern"), [
    ("$.count", "^3$"),
    ("$.flag", "^true$"),
    ("$.data.tags", r'^\["a", "b"\]$'),
    ("$.data.items[0]", r'^\{"n": 1\}$'),
    ("$.data", r'"env": "prod"'),
    ("$.data", r'^\{"env": "prod", "items"'),  # keys sorted, Python's separators
])
def test_non_strings_are_matched_in_their_json_form(field, pattern):
    assert holds(Condition(field, "matches", pattern), EVENT)


def test_unicode_text_and_patterns():
    payload = {"name": "Zoë ☃", "n": "é"}
    assert holds(Condition("$.name", "matches", "ë ☃$"), payload)
    assert holds(Condition("$.name", "matches", r"^\p{Lu}"), payload)
    assert holds(Condition("$.n", "matches", "^.$"), payload)  # one character, two bytes
    # a lone surrogate cannot reach here through the API, but must not raise if it does
    assert holds(Condition("$.s", "matches", "^a"), {"s": "a\ud800"})


def test_catastrophic_pattern_runs_in_linear_time():
    condition = Condition("$.s", "matches", "^(a+)+$")
    assert not holds(condition, {"s": "a" * 100_000 + "!"})  # Python's re: 2^100000 steps
    assert holds(condition, {"s": "a" * 100_000})


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)", "(?!a)b", "(?<=a)b", "(?>a)", "a++",
                                     "a{1001}", "(", "x" * 1025])
def test_patterns_re2_cannot_run_are_refused(pattern):
    assert pattern_refusal(pattern)


@pytest.mark.parametrize("pattern", ["^(a+)+$", r"\d{3}-\d{4}", "(?i)deploy", r"(?P<x>a)\z",
                                     r"[[:alpha:]]+", "a{2,1000}", r"\Aa"])
def test_patterns_re2_runs_are_accepted(pattern):
    assert pattern_refusal(pattern) is None


def test_a_stored_pattern_re2_refuses_matches_nothing():
    assert not holds(Condition("$.type", "matches", r"(com)\.example\.\1"), EVENT)
    assert not holds(Condition("$.type", "matches", 42), EVENT)


def test_workflow_validation_names_the_condition_at_create_and_update():
    conditions = (Condition("$.a", "matches", "^ok"), Condition("$.b", "matches", r"(a)\1"))
    spec = WorkflowSpec(name="w", triggers=Triggers(event=Trigger(True, conditions)))
    with pytest.raises(InvalidArgument) as err:
        validate(spec)
    [(field, description)] = err.value.violations
    assert field == "triggers.event.conditions[1].value" and "RE2" in description
    with pytest.raises(InvalidArgument):  # an update validates the whole result the same way
        validate(WorkflowSpec(name="w").with_changes(triggers=spec.triggers))
