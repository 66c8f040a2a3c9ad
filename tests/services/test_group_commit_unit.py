"""The group commit's contract when its writer is gone (services.group_commit): no caller
waits for a writer that cannot answer. No database: these paths never reach one."""

from __future__ import annotations

import asyncio

import pytest

from flowhooks_server.domain.errors import Unavailable
from flowhooks_server.services.group_commit import GroupCommit


async def test_a_write_before_start_or_after_stop_is_refused_as_shutting_down() -> None:
    commit = GroupCommit(db=None, outbox=None)  # type: ignore[arg-type]
    with pytest.raises(Unavailable, match="shutting down"):
        await commit.write([])
    await commit.start()
    await commit.stop()
    with pytest.raises(Unavailable, match="shutting down"):
        await commit.write([])


async def test_a_writer_that_dies_fails_its_callers_at_once_and_every_later_one() -> None:
    commit = GroupCommit(db=None, outbox=None)  # type: ignore[arg-type]

    async def broken(batch: list) -> None:
        raise RuntimeError("a bug in the writer")

    commit._commit = broken  # type: ignore[method-assign]
    await commit.start()
    waiting = [asyncio.create_task(commit.write([])) for _ in range(3)]
    done, _ = await asyncio.wait(waiting, timeout=5)
    assert len(done) == 3
    for task in waiting:
        with pytest.raises(Unavailable, match="stopped unexpectedly"):
            task.result()
    with pytest.raises(Unavailable, match="stopped unexpectedly"):
        await commit.write([])
    await commit.stop()  # ends cleanly: the error was the loop's, and it was reported
