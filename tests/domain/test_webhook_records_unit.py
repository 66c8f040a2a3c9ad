"""The `Webhook` record and `WebhookFilter` without I/O (SPEC §7): when a webhook is active,
which secrets sign a delivery before, during and after a rotation's grace (the current one
first, the previous one until the instant its grace ends, never a third), how a spec change
that touches the secret rotates it with the default 24 h grace while one that keeps it keeps
the rotation under way, unsuspending, and the stored subscription entries a list filter by
event type selects webhooks by."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from flowhooks_server.domain.signing import DEFAULT_GRACE, SecretState
from flowhooks_server.domain.webhooks import (
    FailureHandling,
    RetryStrategy,
    Webhook,
    WebhookFilter,
    WebhookSpec,
)

CREATED = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)
OLD, NEW, NEWER = "old-secret", "new-secret", "newer-secret"


def webhook(secret: str | None = OLD, *, enabled: bool = True, suspended: bool = False,
            previous: str | None = None, previous_expires_at: datetime | None = None
            ) -> Webhook:
    spec = WebhookSpec(name="orders", url="https://hooks.example.com/in",
                       event_types=("workflow.completed",), headers={"X-Team": ("a",)},
                       secret=secret, enabled=enabled)
    return Webhook(id="wh_1", tenant_id="t_1", spec=spec, created_at=CREATED,
                   updated_at=CREATED, suspended=suspended,
                   suspended_at=CREATED if suspended else None, previous_secret=previous,
                   previous_secret_expires_at=previous_expires_at)


def signing(hook: Webhook, at: datetime) -> tuple[str, ...]:
    return hook.secrets.signing(at)


# --- active --------------------------------------------------------------------------------

@pytest.mark.parametrize(("enabled", "suspended", "active"), [
    (True, False, True),
    (False, False, False),
    (True, True, False),
    (False, True, False),
])
def test_active_is_enabled_and_not_suspended(enabled, suspended, active):
    assert webhook(enabled=enabled, suspended=suspended).active is active


# --- secrets -------------------------------------------------------------------------------

def test_secrets_are_the_current_one_and_the_previous_with_its_end():
    ends = NOW + timedelta(hours=1)
    assert webhook(NEW, previous=OLD, previous_expires_at=ends).secrets == \
        SecretState(NEW, OLD, ends)


def test_secrets_of_a_webhook_without_a_secret_yet_are_empty():
    assert webhook(None).secrets == SecretState("", None, None)


# --- with_secret ---------------------------------------------------------------------------

def test_a_first_secret_signs_alone_whatever_the_grace():
    hook = webhook(None).with_secret(NEW, timedelta(hours=5), NOW)
    assert hook.spec.secret == NEW
    assert (hook.previous_secret, hook.previous_secret_expires_at) == (None, None)
    assert signing(hook, NOW) == (NEW,)


def test_a_first_secret_drops_a_stale_previous_one():
    hook = webhook(None, previous=OLD, previous_expires_at=NOW + timedelta(days=1))
    rotated = hook.with_secret(NEW, timedelta(hours=1), NOW)
    assert (rotated.spec.secret, rotated.previous_secret,
            rotated.previous_secret_expires_at) == (NEW, None, None)
    assert signing(rotated, NOW) == (NEW,)


def test_a_rotation_signs_with_both_new_first_until_the_grace_ends():
    grace = timedelta(hours=2)
    hook = webhook(OLD).with_secret(NEW, grace, NOW)
    assert hook.spec.secret == NEW
    assert hook.previous_secret == OLD
    assert hook.previous_secret_expires_at == datetime(2026, 1, 2, 14, 0, tzinfo=UTC)
    assert signing(hook, NOW) == (NEW, OLD)
    assert signing(hook, NOW + grace - TICK) == (NEW, OLD)
    # The previous secret stops signing at the very instant its grace ends.
    assert signing(hook, NOW + grace) == (NEW,)
    assert signing(hook, NOW + grace + TICK) == (NEW,)


def test_a_rotation_without_a_grace_retires_the_old_secret_at_once():
    hook = webhook(OLD).with_secret(NEW, timedelta(0), NOW)
    assert (hook.spec.secret, hook.previous_secret,
            hook.previous_secret_expires_at) == (NEW, None, None)
    assert signing(hook, NOW) == (NEW,)


def test_a_negative_grace_retires_the_old_secret_at_once():
    hook = webhook(OLD).with_secret(NEW, timedelta(seconds=-1), NOW)
    assert (hook.previous_secret, hook.previous_secret_expires_at) == (None, None)
    assert signing(hook, NOW) == (NEW,)


def test_a_second_rotation_during_a_grace_replaces_the_previous_secret():
    first = webhook(OLD).with_secret(NEW, timedelta(hours=24), NOW)
    later = NOW + timedelta(hours=1)
    second = first.with_secret(NEWER, timedelta(hours=3), later)
    assert second.spec.secret == NEWER
    assert second.previous_secret == NEW
    assert second.previous_secret_expires_at == later + timedelta(hours=3)
    # OLD had 23 h of grace left; it stops signing at once: at most two signatures.
    assert signing(second, later) == (NEWER, NEW)
    assert signing(second, later + timedelta(hours=3) - TICK) == (NEWER, NEW)
    assert signing(second, later + timedelta(hours=3)) == (NEWER,)


def test_a_rotation_after_the_grace_ended_keeps_only_the_last_current_secret():
    first = webhook(OLD).with_secret(NEW, timedelta(hours=1), NOW)
    later = NOW + timedelta(hours=5)
    second = first.with_secret(NEWER, timedelta(hours=1), later)
    assert (second.spec.secret, second.previous_secret,
            second.previous_secret_expires_at) == (NEWER, NEW, later + timedelta(hours=1))
    assert signing(second, later) == (NEWER, NEW)


def test_rotating_back_to_the_previous_secret_makes_it_current_again():
    first = webhook(OLD).with_secret(NEW, timedelta(hours=1), NOW)
    later = NOW + timedelta(minutes=10)
    back = first.with_secret(OLD, timedelta(hours=2), later)
    assert (back.spec.secret, back.previous_secret,
            back.previous_secret_expires_at) == (OLD, NEW, later + timedelta(hours=2))
    assert signing(back, later) == (OLD, NEW)


def test_rotating_to_the_current_secret_keeps_a_live_grace_unchanged():
    ends = NOW + timedelta(hours=1)
    hook = webhook(NEW, previous=OLD, previous_expires_at=ends)
    same = hook.with_secret(NEW, timedelta(days=7), NOW)
    assert same == hook
    assert signing(same, ends - TICK) == (NEW, OLD)
    assert signing(same, ends) == (NEW,)


def test_rotating_to_the_current_secret_drops_an_expired_previous_one():
    ends = NOW - timedelta(seconds=1)
    hook = webhook(NEW, previous=OLD, previous_expires_at=ends)
    same = hook.with_secret(NEW, timedelta(hours=1), NOW)
    assert (same.spec.secret, same.previous_secret,
            same.previous_secret_expires_at) == (NEW, None, None)


def test_rotating_to_the_current_secret_drops_a_previous_one_whose_grace_ends_now():
    hook = webhook(NEW, previous=OLD, previous_expires_at=NOW)
    same = hook.with_secret(NEW, timedelta(hours=1), NOW)
    assert (same.previous_secret, same.previous_secret_expires_at) == (None, None)


def test_with_secret_changes_only_the_secrets():
    hook = webhook(OLD, suspended=True)
    rotated = hook.with_secret(NEW, timedelta(hours=1), NOW)
    assert rotated.spec == replace(hook.spec, secret=NEW)
    assert (rotated.id, rotated.tenant_id, rotated.created_at, rotated.updated_at,
            rotated.suspended, rotated.suspended_at) == (
        "wh_1", "t_1", CREATED, CREATED, True, CREATED)
    # Records are values: the original is untouched.
    assert (hook.spec.secret, hook.previous_secret) == (OLD, None)


# --- with_spec -----------------------------------------------------------------------------

def edited(secret: str | None) -> WebhookSpec:
    return WebhookSpec(name="orders v2", url="https://hooks.example.com/v2",
                       event_types=("workflow.*",), headers={"X-Team": ("b",)},
                       secret=secret, enabled=False,
                       failure_handling=FailureHandling(
                           triggers=("5xx",), retry=RetryStrategy("linear", 5.0, 2)),
                       timeout_s=3.0, format="cloudevents", ordered=True)


def test_a_changed_secret_in_a_spec_is_a_rotation_with_the_default_24_h_grace():
    assert DEFAULT_GRACE == timedelta(hours=24)
    hook = webhook(OLD).with_spec(edited(NEW), NOW)
    assert hook.spec == edited(NEW)
    assert hook.previous_secret == OLD
    assert hook.previous_secret_expires_at == datetime(2026, 1, 3, 12, 0, tzinfo=UTC)
    assert signing(hook, NOW) == (NEW, OLD)
    assert signing(hook, NOW + timedelta(hours=24) - TICK) == (NEW, OLD)
    assert signing(hook, NOW + timedelta(hours=24)) == (NEW,)


def test_an_unchanged_secret_in_a_spec_keeps_the_rotation_under_way():
    ends = NOW + timedelta(hours=3)
    hook = webhook(NEW, previous=OLD, previous_expires_at=ends)
    changed = hook.with_spec(edited(NEW), NOW)
    assert changed.spec == edited(NEW)
    assert (changed.previous_secret, changed.previous_secret_expires_at) == (OLD, ends)
    assert signing(changed, ends - TICK) == (NEW, OLD)
    assert signing(changed, ends) == (NEW,)


def test_an_unchanged_secret_in_a_spec_starts_no_grace():
    changed = webhook(OLD).with_spec(edited(OLD), NOW)
    assert changed.spec == edited(OLD)
    assert (changed.previous_secret, changed.previous_secret_expires_at) == (None, None)
    assert signing(changed, NOW) == (OLD,)


def test_an_unchanged_secret_in_a_spec_drops_an_expired_previous_one():
    hook = webhook(NEW, previous=OLD, previous_expires_at=NOW - timedelta(hours=1))
    changed = hook.with_spec(edited(NEW), NOW)
    assert (changed.previous_secret, changed.previous_secret_expires_at) == (None, None)


def test_a_changed_secret_during_a_grace_replaces_the_previous_one():
    hook = webhook(NEW, previous=OLD, previous_expires_at=NOW + timedelta(hours=3))
    changed = hook.with_spec(edited(NEWER), NOW)
    assert (changed.spec.secret, changed.previous_secret,
            changed.previous_secret_expires_at) == (NEWER, NEW, NOW + DEFAULT_GRACE)
    assert signing(changed, NOW) == (NEWER, NEW)


def test_a_spec_giving_a_webhook_its_first_secret_starts_no_grace():
    changed = webhook(None).with_spec(edited(NEW), NOW)
    assert changed.spec == edited(NEW)
    assert (changed.previous_secret, changed.previous_secret_expires_at) == (None, None)
    assert signing(changed, NOW) == (NEW,)


def test_a_spec_without_a_secret_is_refused():
    with pytest.raises(ValueError, match="must hold its secret"):
        webhook(OLD).with_spec(edited(None), NOW)


def test_with_spec_keeps_what_the_server_holds():
    hook = webhook(OLD, suspended=True)
    changed = hook.with_spec(edited(NEW), NOW)
    assert (changed.id, changed.tenant_id, changed.created_at, changed.updated_at,
            changed.suspended, changed.suspended_at) == (
        "wh_1", "t_1", CREATED, CREATED, True, CREATED)
    assert hook.spec.secret == OLD and hook.previous_secret is None


# --- unsuspended ---------------------------------------------------------------------------

def test_unsuspended_clears_the_suspension_and_nothing_else():
    hook = webhook(NEW, suspended=True, previous=OLD,
                   previous_expires_at=NOW + timedelta(hours=1))
    assert hook.active is False
    back = hook.unsuspended()
    assert (back.suspended, back.suspended_at) == (False, None)
    assert back == replace(hook, suspended=False, suspended_at=None)
    assert back.active is True
    assert hook.suspended is True and hook.suspended_at == CREATED


def test_unsuspending_a_disabled_webhook_leaves_it_inactive():
    back = webhook(enabled=False, suspended=True).unsuspended()
    assert (back.suspended, back.active) == (False, False)


def test_unsuspending_a_webhook_that_is_not_suspended_changes_nothing():
    hook = webhook()
    assert hook.unsuspended() == hook


# --- WebhookFilter -------------------------------------------------------------------------

def test_the_default_filter_selects_everything():
    where = WebhookFilter()
    assert (where.name, where.enabled, where.suspended, where.active, where.event_types,
            where.after_id) == (None, None, None, None, (), None)
    assert where.event_entries() is None


@pytest.mark.parametrize(("event_type", "entries"), [
    ("workflow.started", {"workflow.started", "workflow.*", "*"}),
    ("workflow.completed", {"workflow.completed", "workflow.*", "*"}),
    ("workflow.failed", {"workflow.failed", "workflow.*", "*"}),
    ("workflow.step.started",
     {"workflow.step.started", "workflow.step.*", "workflow.*", "*"}),
    ("workflow.step.completed",
     {"workflow.step.completed", "workflow.step.*", "workflow.*", "*"}),
    ("workflow.step.failed",
     {"workflow.step.failed", "workflow.step.*", "workflow.*", "*"}),
])
def test_an_event_type_is_selected_by_itself_and_the_patterns_covering_it(event_type, entries):
    assert WebhookFilter(event_types=(event_type,)).event_entries() == frozenset(entries)


def test_several_event_types_select_the_union_of_their_entries():
    where = WebhookFilter(event_types=("workflow.completed", "workflow.step.failed"))
    assert where.event_entries() == frozenset({
        "workflow.completed", "workflow.step.failed", "workflow.step.*", "workflow.*", "*"})


def test_a_repeated_event_type_counts_once():
    where = WebhookFilter(event_types=("workflow.failed", "workflow.failed"))
    assert where.event_entries() == frozenset({"workflow.failed", "workflow.*", "*"})


def test_a_pattern_is_selected_by_itself_and_the_broader_patterns():
    assert WebhookFilter(event_types=("workflow.step.*",)).event_entries() == frozenset(
        {"workflow.step.*", "workflow.*", "*"})
    assert WebhookFilter(event_types=("*",)).event_entries() == frozenset({"*"})


def test_an_event_type_outside_the_catalog_is_still_matched_by_the_patterns_covering_it():
    assert WebhookFilter(event_types=("workflow.exploded",)).event_entries() == frozenset(
        {"workflow.exploded", "workflow.*", "*"})
    assert WebhookFilter(event_types=("billing.paid",)).event_entries() == frozenset(
        {"billing.paid", "*"})
