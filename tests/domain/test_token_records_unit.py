"""Whether an API token can be used (SPEC §5: an expired or revoked token gives 401), without
I/O: a token is usable while it is not revoked and `now` is strictly before its expiry; at
the instant it expires it is no longer usable. Tenant, permissions and last use do not enter
into it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from flowhooks_server.domain.tokens import Token, is_usable

CREATED = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 10, 15, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)


def token(*, expires_at: datetime | None = None, revoked_at: datetime | None = None,
          tenant_id: str | None = "t_1") -> Token:
    return Token(id="tok_1", tenant_id=tenant_id, name="ci", permissions=("webhooks:read",),
                 created_at=CREATED, expires_at=expires_at, revoked_at=revoked_at)


def test_a_token_without_expiry_or_revocation_is_usable():
    assert is_usable(token(), NOW) is True
    assert is_usable(token(), datetime(2999, 1, 1, tzinfo=UTC)) is True


@pytest.mark.parametrize(("at", "usable"), [
    (NOW - timedelta(days=1), True),
    (NOW - TICK, True),
    (NOW, False),  # the expiry instant itself is past the token's life
    (NOW + TICK, False),
    (NOW + timedelta(days=1), False),
])
def test_a_token_is_usable_strictly_before_it_expires(at, usable):
    assert is_usable(token(expires_at=NOW), at) is usable


@pytest.mark.parametrize("revoked_at", [CREATED, NOW - timedelta(hours=1), NOW,
                                        NOW + timedelta(hours=1)])
def test_a_revoked_token_is_never_usable(revoked_at):
    assert is_usable(token(revoked_at=revoked_at), NOW) is False
    assert is_usable(token(revoked_at=revoked_at, expires_at=NOW + timedelta(days=30)),
                     NOW) is False


def test_a_revoked_and_expired_token_is_not_usable():
    assert is_usable(token(revoked_at=NOW - timedelta(hours=2),
                           expires_at=NOW - timedelta(hours=1)), NOW) is False


def test_without_now_the_current_time_is_used():
    now = datetime.now(UTC)
    assert is_usable(token()) is True
    assert is_usable(token(expires_at=now + timedelta(hours=1))) is True
    assert is_usable(token(expires_at=now - timedelta(seconds=1))) is False
    assert is_usable(token(revoked_at=now - timedelta(seconds=1))) is False


def test_tenant_permissions_and_last_use_do_not_matter():
    base = token(expires_at=NOW + timedelta(hours=1))
    for variant in (replace(base, tenant_id=None), replace(base, permissions=()),
                    replace(base, permissions=("*",)), replace(base, last_used_at=NOW)):
        assert is_usable(variant, NOW) is True
        assert is_usable(variant, NOW + timedelta(hours=1)) is False


def test_a_token_record_holds_neither_its_plaintext_nor_its_hash():
    fields = set(Token.__dataclass_fields__)
    assert not {"token", "plaintext", "secret", "token_hash", "hash"} & fields
