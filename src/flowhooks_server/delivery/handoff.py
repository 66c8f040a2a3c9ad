"""First attempts without a claim: a transaction that makes deliveries asks the process's
own worker for a lease (`storage.deliveries.Lease`), makes the deliveries it can take in
flight under it (`fan_out`), and once it commits hands them over (`take`), so that the worker
attempts them at once with what the transaction already had in hand: no wake-up, no claim,
no re-read of the event or the webhook.

Where no worker runs here, or it is stopping, or its slots are taken, there is no lease and
deliveries are made pending for a claim, as before. A lease never handed over (the process
died between the commit and `take`) runs out and is reaped, as a crashed claim's is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from flowhooks_server.storage.deliveries import Claimed, Lease


class Taker(Protocol):
    def lease(self) -> Lease | None: ...

    def take(self, jobs: Sequence[Claimed]) -> None: ...


class Handoff:
    def __init__(self) -> None:
        self._taker: Taker | None = None

    def attach(self, taker: Taker) -> None:
        self._taker = taker

    def detach(self) -> None:
        self._taker = None

    def lease(self) -> Lease | None:
        return None if self._taker is None else self._taker.lease()

    def take(self, jobs: Sequence[Claimed]) -> None:
        """Deliveries leased by `lease` whose transaction committed."""
        if jobs and self._taker is not None:
            self._taker.take(jobs)
