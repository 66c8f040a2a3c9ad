"""Property tests of the trigger-condition evaluator (SPEC §10, hostile input): generated JSON
payloads, paths, operations and patterns.

- evaluation never raises, whatever the condition and the payload (junk paths, unknown
  operations, patterns RE2 refuses, deep or odd values);
- `equals` and `in` agree with JSON equality, here an independent reference: numbers by exact
  value (1 == 1.0), booleans only with booleans, objects by keys and members;
- `matches` agrees with Python's `re.search` on patterns both dialects read alike, and finds a
  non-string value's JSON form (`json.dumps(value, sort_keys=True)`) as before RE2.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction

import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from flowhooks_server.domain.conditions import holds
from flowhooks_server.domain.workflows import Condition

SETTINGS = settings(max_examples=200, deadline=None)

scalars = (st.none() | st.booleans() | st.integers()
           | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=16,
)
keys = st.from_regex(r"k_[a-z]{1,5}", fullmatch=True)
payloads = st.dictionaries(keys, json_values, min_size=1, max_size=5)
paths = st.sampled_from([
    "$", "$.k_a", "$.k_a.k_b", "$..*", "$[0]", "$[*]", "$.k_a[*]", "$..k_b",
    "$[?(@.n > 3)]", "$.k_a[?(@ == 1)]", "$.*", "$['k_a']", "$[-1:]", "$.`len`",
]) | st.text(max_size=16)
operations = st.sampled_from(["equals", "matches", "in", "", "nope", "EQUALS"])
patterns = st.sampled_from([
    "^(a+)+$", r"(a)\1", "(?=a)", "(", "[", "a{1001}", r"\Z", r"\d+", "(?i)A", ".*", "",
    r"\p{L}", "[[:alpha:]]", "(?P<x>a)(?P=x)", "a++", "\\",
]) | st.text(max_size=12)


def reference(value):
    """JSON equality as a normal form: independent of the evaluator's `_equal`."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", Fraction(value))
    if isinstance(value, str):
        return ("string", value)
    if value is None:
        return ("null",)
    if isinstance(value, list):
        return ("array", tuple(reference(v) for v in value))
    return ("object", frozenset((k, reference(v)) for k, v in value.items()))


def json_equal(left, right) -> bool:
    return reference(left) == reference(right)


@SETTINGS
@given(payload=json_values | payloads, field=paths, operation=operations,
       value=json_values | patterns, values=st.none() | st.lists(json_values, max_size=3))
def test_evaluation_never_raises(payload, field, operation, value, values):
    condition = Condition(field, operation, value,
                          None if values is None else tuple(values))
    assert holds(condition, payload) in (True, False)


@SETTINGS
@given(data=st.data(), payload=payloads)
def test_equals_agrees_with_json_equality(data, payload):
    key = data.draw(st.sampled_from(sorted(payload)))
    # half the time an operand built to be equal: the same value, or 1.0 for 1
    same = payload[key]
    twin = float(same) if isinstance(same, int) and not isinstance(same, bool) \
        and abs(same) < 2**53 else same
    operand = data.draw(json_values | st.just(same) | st.just(twin))
    assert holds(Condition(f"$.{key}", "equals", operand), payload) == json_equal(same, operand)
    assert not holds(Condition("$.k_missing_key", "equals", operand), payload)


@SETTINGS
@given(data=st.data(), payload=payloads)
def test_in_agrees_with_json_equality(data, payload):
    key = data.draw(st.sampled_from(sorted(payload)))
    candidates = data.draw(st.lists(json_values | st.just(payload[key]), max_size=4))
    expected = any(json_equal(payload[key], c) for c in candidates)
    assert holds(Condition(f"$.{key}", "in", values=tuple(candidates)), payload) == expected


# Pieces both Python's re and RE2 read the same way, on text without newlines (Python's `$`
# also matches before a final newline; RE2's does not).
PIECES = ["a", "b", "ab", ".", "[ab]", "[^a]", "a*", "b+", "(a|b)", "a?", "^", "$", r"\d",
          "x{1,3}", "(?:ab)+", r"\.", "[0-9]", r"\b", r"\s"]


@SETTINGS
@given(pieces=st.lists(st.sampled_from(PIECES), min_size=1, max_size=6),
       text=st.text(alphabet="ab1x. !", max_size=20))
def test_matches_agrees_with_python_search(pieces, text):
    pattern = "".join(pieces)
    expected = re.search(pattern, text) is not None
    assert holds(Condition("$.s", "matches", pattern), {"s": text}) == expected


@SETTINGS
@given(value=json_values.filter(lambda v: not isinstance(v, str)))
def test_non_strings_are_matched_in_their_json_form(value):
    text = json.dumps(value, sort_keys=True)
    pattern = f"^{re2.escape(text)}$"
    if len(pattern) <= 1024:
        assert holds(Condition("$.v", "matches", pattern), {"v": value})
