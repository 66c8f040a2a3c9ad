"""The trigger cache of services.workflows: concurrent misses share one read, and a change made
in this process is seen at once, also by requests that arrive while an older read is under
way. The store is faked; no database."""

from __future__ import annotations

import asyncio
import types

import pytest

from flowhooks_server.domain.errors import NotFound
from flowhooks_server.services import read_cache, workflows


class Reads:
    def __init__(self) -> None:
        self.count = 0
        self.version = 1
        self.gate: asyncio.Event | None = None

    async def get(self, tenant: str, workflow_id: str):
        self.count += 1
        version = self.version
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(0)
        if workflow_id != "wf_1":
            raise NotFound(f"workflow {workflow_id!r} not found")
        return types.SimpleNamespace(id=workflow_id, tenant_id=tenant, version=version)


@pytest.fixture
def manager(monkeypatch):
    now = [500.0]
    monkeypatch.setattr(read_cache, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    manager = workflows.WorkflowManager(db=None)  # type: ignore[arg-type]
    reads = Reads()
    manager.get = reads.get  # type: ignore[method-assign]
    return manager, reads, now


async def test_concurrent_misses_share_one_read(manager) -> None:
    manager, reads, now = manager
    got = await asyncio.gather(*(manager.get_for_trigger("t", "wf_1") for _ in range(40)))
    assert reads.count == 1 and all(w.version == 1 for w in got)
    now[0] += workflows.CACHE_TTL_S + 0.01
    await manager.get_for_trigger("t", "wf_1")
    assert reads.count == 2


async def test_a_miss_for_another_tenant_reads_on_its_own(manager) -> None:
    manager, reads, _ = manager
    a, b = await asyncio.gather(manager.get_for_trigger("t", "wf_1"),
                                manager.get_for_trigger("u", "wf_1"))
    assert (a.tenant_id, b.tenant_id) == ("t", "u") and reads.count == 2


async def test_not_found_reaches_every_waiter_and_is_not_cached(manager) -> None:
    manager, reads, _ = manager
    results = await asyncio.gather(*(manager.get_for_trigger("t", "wf_x") for _ in range(3)),
                                   return_exceptions=True)
    assert all(isinstance(r, NotFound) for r in results) and reads.count == 1
    with pytest.raises(NotFound):
        await manager.get_for_trigger("t", "wf_x")
    assert reads.count == 2


async def test_a_change_is_seen_at_once_even_during_an_older_read(manager) -> None:
    manager, reads, _ = manager
    reads.gate = asyncio.Event()
    older = asyncio.create_task(manager.get_for_trigger("t", "wf_1"))
    await asyncio.sleep(0.01)
    reads.version = 2
    manager._forget("wf_1")  # what change() and delete() do once their write is committed
    newer = asyncio.create_task(manager.get_for_trigger("t", "wf_1"))
    await asyncio.sleep(0.01)
    assert reads.count == 2  # the newer request did not join the older read
    reads.gate.set()
    assert (await older).version == 1
    assert (await newer).version == 2
    assert (await manager.get_for_trigger("t", "wf_1")).version == 2
