"""A workflow run and its task runs as plain, frozen values: what storage reads and writes,
what the run rules (`domain.runs`) take and give back, and what the API renders.

    Run          one execution of a workflow: its trigger, params, status and phase, times
    TaskRun      one task of a run, in position order: its type, status, phase, timer
                 (`due_at`), the spec fields it runs with (`params`) and its `results`
    RunView      a run with its tasks, as every read returns it

A task's `params` holds the spec fields it needs (`topic`, `timeout_s`, `duration_s`) and the
task's own parameters under `params`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Run:
    id: str
    tenant_id: str
    workflow_id: str
    trigger: str
    status: str
    phase: str
    params: dict[str, Any]
    created_at: datetime
    start_time: datetime | None = None
    end_time: datetime | None = None


@dataclass(frozen=True)
class TaskRun:
    id: str
    run_id: str
    position: int
    name: str
    type: str
    status: str
    phase: str
    params: dict[str, Any]
    results: dict[str, Any]
    start_time: datetime | None = None
    end_time: datetime | None = None
    due_at: datetime | None = None

    @property
    def topic(self) -> str | None:
        return self.params.get("topic")

    @property
    def own_params(self) -> dict[str, Any]:
        """The task's parameters as the workflow set them."""
        return self.params.get("params") or {}


@dataclass(frozen=True)
class RunView:
    run: Run
    tasks: tuple[TaskRun, ...]
