"""Waiting in tests on the event that matters, never on the clock alone.

`until` polls a condition until it holds, with a deadline and a message that says what was
awaited. `quiescent` is how a test says "nothing more happens": it first waits for a positive
*settled* condition, one that proves the system has processed everything that could still
change what is observed, and only then checks the observation. On a slow machine such a check
waits longer; it never passes by default, as a fixed sleep followed by an equality would (the
sleep may end before the thing it waits out has even started).

`deliveries_settled` is the settled condition of the delivery worker for some webhooks, read
from the database: none of their deliveries is in flight, and none could be claimed within a
horizon (a pending delivery that is due soon, and not queued behind an unfinished earlier one
of an ordered webhook). A request reaches the receiver before its attempt's outcome is
recorded, so once the deliveries are settled no further request for those webhooks can arrive
before the horizon.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import and_, exists, func, not_, or_, select
from sqlalchemy.orm import aliased

from flowhooks_server.clock import utcnow
from flowhooks_server.storage.db import Database
from flowhooks_server.storage.models import Delivery

T = TypeVar("T")
Condition = Callable[[], Any]  # returns a value (truthy when met), or an awaitable of one


async def _check(condition: Condition) -> Any:
    got = condition()
    return await got if inspect.isawaitable(got) else got


async def until(condition: Condition, timeout_s: float, what: str,
                interval_s: float = 0.02) -> Any:
    """The first truthy value `condition()` returns; AssertionError naming `what` when none
    comes within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = await _check(condition)
        if got:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout_s}s: {what}")
        await asyncio.sleep(interval_s)


async def quiescent(settled: Condition, observe: Callable[[], T], expected: T, *,
                    timeout_s: float = 10.0, what: str) -> None:
    """Nothing more happens: once `settled()` holds (waited for up to `timeout_s`), the
    observation `observe()` is `expected`. `settled` must be a condition after which the
    observation cannot change (see the module text), never a mere lapse of time."""
    await until(settled, timeout_s, f"settled before checking that {what}")
    assert observe() == expected, f"{what}: got {observe()!r}, wanted {expected!r}"


async def unsettled_deliveries(db: Database, webhook_ids: tuple[str, ...],
                               horizon_s: float) -> int:
    """How many deliveries of `webhook_ids` are in flight or could be claimed within
    `horizon_s` (the claim rule of `storage.deliveries.claim`, looked at ahead of time)."""
    earlier = aliased(Delivery)
    blocked = exists().where(earlier.webhook_id == Delivery.webhook_id,
                             earlier.seq < Delivery.seq,
                             earlier.status.in_(("pending", "inflight", "held")))
    soon = utcnow() + timedelta(seconds=horizon_s)
    claimable = and_(Delivery.status == "pending", Delivery.next_attempt_at <= soon,
                     or_(Delivery.ordered.is_(False), not_(blocked)))
    query = (select(func.count()).select_from(Delivery)
             .where(Delivery.webhook_id.in_(webhook_ids),
                    or_(Delivery.status == "inflight", claimable)))
    async with db.session() as session:
        return int((await session.execute(query)).scalar_one())


def deliveries_settled(db: Database, *webhook_ids: str,
                       horizon_s: float = 60.0) -> Callable[[], Awaitable[bool]]:
    """A settled condition for `quiescent`: the worker has nothing left to send for
    `webhook_ids` now or within `horizon_s` (see the module text)."""
    async def settled() -> bool:
        return await unsettled_deliveries(db, webhook_ids, horizon_s) == 0
    return settled
