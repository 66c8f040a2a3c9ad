"""Plain webhooks (SPEC §6): the JSON body and the Idempotency-Key."""

import pytest

from flowhooks_server.domain.errors import InvalidArgument
from flowhooks_server.domain.inbound import sender_of
from flowhooks_server.domain.inbound.plain import dedupe_key, parse_body


def test_plain_sender():
    assert sender_of({"Authorization": "Bearer x", "Content-Type": "application/json"}) == "plain"


def test_json_body_parses_and_empty_is_an_object():
    assert parse_body(b'{"order": 7}') == {"order": 7}
    assert parse_body(b"  ") == {}


def test_bad_json_names_body():
    with pytest.raises(InvalidArgument) as err:
        parse_body(b"{nope")
    assert [field for field, _ in err.value.violations] == ["body"]


def test_idempotency_key():
    assert dedupe_key({"Idempotency-Key": " k-1 "}) == dedupe_key({"idempotency-key": "k-1"})
    assert dedupe_key({}) is None and dedupe_key({"Idempotency-Key": ""}) is None
    with pytest.raises(InvalidArgument) as err:
        dedupe_key({"Idempotency-Key": "k" * 256})
    assert [field for field, _ in err.value.violations] == ["Idempotency-Key"]
