"""Property tests (Hypothesis) of the strict JSON reader and the inbound parsers built on it:
whatever bytes arrive, the answer is a document that can be stored and rendered back, or an
`InvalidArgument`/`Unauthenticated` naming what is wrong — never another exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowhooks_server.domain import json_doc
from flowhooks_server.domain.errors import InvalidArgument, Unauthenticated
from flowhooks_server.domain.inbound import cloudevents, github, plain, slack

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=20)
scalars = (st.none() | st.booleans() | st.integers() | text
           | st.floats(allow_nan=False, allow_infinity=False))
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                         | st.dictionaries(text, inner, max_size=4), max_leaves=25)
json_fragments = st.sampled_from([
    b"{", b"}", b"[", b"]", b",", b":", b'"a"', b"1", b"-0", b"1e400", b"NaN", b"Infinity",
    b'"\\ud800"', b'"\\u0000"', b"\xff", b"true", b"null", b"0.5", b"9" * 320, b" "])
hostile_bodies = st.binary(max_size=64) | st.lists(json_fragments, max_size=40).map(b"".join)


def _canonical(value):
    """-0.0 == 0.0 in Python, so compare through dumps."""
    return json.dumps(value, sort_keys=True)


@SETTINGS
@given(documents)
def test_every_clean_document_reads_back_exactly(document):
    body = json.dumps(document, ensure_ascii=False).encode()
    read = json_doc.loads(body)
    assert _canonical(read) == _canonical(document)
    assert json.loads(json_doc.dumps(read)) == read


@SETTINGS
@given(hostile_bodies)
def test_hostile_bytes_are_a_storable_document_or_a_400(body):
    try:
        read = json_doc.loads(body)
    except InvalidArgument as exc:
        assert exc.violations and exc.violations[0][0].startswith("body")
        return
    json_doc.check(read)  # nothing the reader accepts is refused afterwards
    json_doc.dumps(read)  # and it renders as valid JSON
    assert "\x00" not in json.dumps(read)


@SETTINGS
@given(documents, st.sampled_from([b"NaN", b"-Infinity", b"1e999", b'"\\udfff"',
                                   b'"a\\u0000"', b"[" * 70 + b"]" * 70]))
def test_poison_anywhere_is_refused(document, poison):
    body = json.dumps({"x": document, "p": "@"}).encode().replace(b'"@"', poison)
    with pytest.raises(InvalidArgument):
        json_doc.loads(body)


headers = st.dictionaries(st.sampled_from([
    "content-type", "ce-id", "ce-source", "ce-type", "ce-specversion", "ce-time",
    "ce-subject", "x-github-event", "x-github-delivery", "idempotency-key"]),
    st.sampled_from(["application/json", "application/cloudevents+json",
                     "application/cloudevents-batch+json", "1.0", "0.3", "x", "", "\x7f",
                     "2020-01-01T00:00:00Z", "not a time", "a" * 300]), max_size=6)


@SETTINGS
@given(headers, hostile_bodies)
def test_inbound_parsers_answer_events_or_400(request_headers, body):
    for parse in (cloudevents.parse_http, github.parse_delivery, slack.parse_request,
                  lambda h, b: (plain.dedupe_key(h), plain.parse_body(b))):
        try:
            parse(request_headers, body)
        except InvalidArgument as exc:
            assert exc.violations


@SETTINGS
@given(st.text(max_size=500), hostile_bodies)
def test_slack_timestamps_of_any_shape_are_401_or_verified(timestamp, body):
    request_headers = {"x-slack-request-timestamp": timestamp, "x-slack-signature": "v0=00"}
    with pytest.raises(Unauthenticated):
        slack.verify_signature("secret", request_headers, body, now=1_700_000_000)
