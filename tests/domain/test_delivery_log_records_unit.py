"""Delivery log records without I/O (SPEC §8.9, §8.10, §8.17): positions order entries by
transaction first and by insertion order within one, so a watch cursor compares as the log
reads; a log filter selects entries by tenant, webhook and event type, exactly and all at
once; and a diverted event has a resend pending once a resend delivery was made for it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from flowhooks_server.domain.delivery_logs import DivertedEvent, LogEntry, LogFilter, Position

AT = datetime(2026, 2, 1, 8, 30, tzinfo=UTC)


def entry(tenant_id: str = "t_1", webhook_id: str = "wh_1",
          event_type: str = "workflow.completed") -> LogEntry:
    return LogEntry(id="log_1", position=Position(7, 3), tenant_id=tenant_id,
                    webhook_id=webhook_id, delivery_id="dlv_1", event_id="evt_1",
                    event_type=event_type, attempt=1, status="succeeded",
                    url="https://hooks.example.com/in", response_status_code=200,
                    response_body="ok", duration_ms=12, error=None, failure_trigger=None,
                    created_at=AT, next_attempt_at=None)


# --- Position ------------------------------------------------------------------------------

def test_a_position_is_its_transaction_then_its_sequence():
    position = Position(txid=12, seq=4)
    assert (position.txid, position.seq) == (12, 4)
    assert position == Position(12, 4) == (12, 4)
    txid, seq = position
    assert (txid, seq) == (12, 4)


@pytest.mark.parametrize(("earlier", "later"), [
    (Position(1, 5), Position(1, 6)),  # same transaction: insertion order
    (Position(1, 900), Position(2, 0)),  # a later transaction, whatever the sequence
    (Position(0, 0), Position(0, 1)),  # SQLite: every txid is 0
    (Position(0, 10**12), Position(1, 1)),
])
def test_positions_compare_in_log_order(earlier, later):
    assert earlier < later and later > earlier
    assert earlier <= later and not later <= earlier
    assert earlier != later


def test_equal_positions_are_neither_before_nor_after():
    a, b = Position(3, 3), Position(3, 3)
    assert a == b and a <= b and a >= b
    assert not a < b and not a > b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1


def test_positions_sort_in_log_order():
    written = [Position(2, 1), Position(1, 9), Position(2, 0), Position(0, 50), Position(1, 2)]
    assert sorted(written) == [Position(0, 50), Position(1, 2), Position(1, 9), Position(2, 0),
                               Position(2, 1)]
    assert max(written) == Position(2, 1)
    assert min(written) == Position(0, 50)


def test_positions_are_immutable():
    position = Position(1, 1)
    with pytest.raises(AttributeError):
        position.seq = 2  # type: ignore[misc]


# --- LogFilter -----------------------------------------------------------------------------

def test_the_default_filter_matches_every_entry():
    where = LogFilter()
    assert (where.tenant_id, where.webhook_id, where.event_type) == (None, None, None)
    assert where.matches(entry())
    assert where.matches(entry("t_2", "wh_9", "workflow.step.failed"))


def test_empty_webhook_and_event_type_select_every_value():
    where = LogFilter(tenant_id="t_1", webhook_id="", event_type="")
    assert where.matches(entry())
    assert where.matches(entry(webhook_id="wh_9", event_type="workflow.failed"))
    assert not where.matches(entry(tenant_id="t_2"))


@pytest.mark.parametrize(("where", "selected"), [
    (LogFilter(tenant_id="t_1"), True),
    (LogFilter(tenant_id="t_2"), False),
    (LogFilter(webhook_id="wh_1"), True),
    (LogFilter(webhook_id="wh_2"), False),
    (LogFilter(event_type="workflow.completed"), True),
    (LogFilter(event_type="workflow.failed"), False),
    (LogFilter("t_1", "wh_1", "workflow.completed"), True),
    # Every field that is set must match.
    (LogFilter("t_2", "wh_1", "workflow.completed"), False),
    (LogFilter("t_1", "wh_2", "workflow.completed"), False),
    (LogFilter("t_1", "wh_1", "workflow.failed"), False),
    (LogFilter("t_1", "wh_1"), True),
    (LogFilter("t_1", event_type="workflow.completed"), True),
    (LogFilter("t_2", event_type="workflow.completed"), False),
])
def test_each_field_that_is_set_must_match(where, selected):
    assert where.matches(entry("t_1", "wh_1", "workflow.completed")) is selected


@pytest.mark.parametrize("event_type", ["workflow.*", "*", "WORKFLOW.COMPLETED",
                                        "workflow.completed ", "workflow"])
def test_the_event_type_is_compared_exactly_not_as_a_pattern(event_type):
    assert not LogFilter(event_type=event_type).matches(entry(event_type="workflow.completed"))


def test_ids_are_compared_exactly():
    assert not LogFilter(tenant_id="T_1").matches(entry(tenant_id="t_1"))
    assert not LogFilter(webhook_id="wh_").matches(entry(webhook_id="wh_1"))
    assert not LogFilter(webhook_id="wh_1").matches(entry(webhook_id="wh_10"))


def test_the_filter_reads_only_tenant_webhook_and_event_type():
    where = LogFilter("t_1", "wh_1", "workflow.completed")
    other = replace(entry(), id="log_2", position=Position(99, 1), status="failed",
                    attempt=4, delivery_id="dlv_2", event_id="evt_2")
    assert where.matches(other)


# --- DivertedEvent -------------------------------------------------------------------------

def diverted(resend_delivery_id: str | None) -> DivertedEvent:
    return DivertedEvent(id="div_1", tenant_id="t_1", webhook_id="wh_1", event_id="evt_1",
                         event_type="workflow.failed", delivery_id="dlv_1",
                         request_locator="log_9", failure_message="HTTP 503",
                         failure_timestamp=AT, failure_trigger="5xx",
                         resend_delivery_id=resend_delivery_id, created_at=AT)


def test_no_resend_is_pending_until_one_is_asked_for():
    assert diverted(None).resend_pending is False


def test_a_resend_is_pending_once_its_delivery_exists():
    assert diverted("dlv_2").resend_pending is True


def test_asking_for_a_resend_changes_only_the_resend_delivery():
    before = diverted(None)
    after = replace(before, resend_delivery_id="dlv_2")
    assert after.resend_pending is True and before.resend_pending is False
    assert replace(after, resend_delivery_id=None) == before
