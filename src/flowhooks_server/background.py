"""A named background task with the one start/stop shape every long-running loop shares:
`start` creates it, `stop` cancels it and waits until it has really ended (a cancelled loop
that swallowed the cancellation would otherwise outlive its component), so shutdown can run
component by component in order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any


class Background:
    """At most one running task; `stop` is idempotent and safe before `start`."""

    def __init__(self, name: str):
        self.name = name
        self._task: asyncio.Task[Any] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, loop: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self._task = asyncio.create_task(loop(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
