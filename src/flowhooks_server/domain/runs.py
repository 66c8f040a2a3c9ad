"""How a workflow run moves (SPEC §6): tasks in order, each run's and task's status and
phase, and the lifecycle events each move emits. Pure rules over run/task objects (the rows
or anything with the same attributes); the caller stores the result and the events in one
transaction.

Run status: notstarted → running ⇄ waiting → succeeded | failed | cancelled (phase pending →
running → completed). A task: notstarted → running (sleep) | waiting (eventwait, external) →
succeeded | failed | timedout | cancelled."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from flowhooks_server.domain.payloads import rfc3339

CALLBACK_STATUSES = ("succeeded", "failed")
FINISHED = ("succeeded", "failed", "cancelled", "timedout")


class TaskLike(Protocol):
    id: str
    name: str
    type: str
    status: str
    phase: str
    params: dict
    results: dict
    start_time: datetime | None
    end_time: datetime | None
    due_at: datetime | None


class RunLike(Protocol):
    id: str
    workflow_id: str
    trigger: str
    status: str
    phase: str
    start_time: datetime | None
    end_time: datetime | None


@dataclass
class Moves:
    """What a step of the run produced: events to publish, pre-resolved callbacks used."""

    events: list[tuple[str, dict]] = field(default_factory=list)
    used_callbacks: list[str] = field(default_factory=list)


def _iso(moment: datetime | None) -> str | None:
    return rfc3339(moment) if moment else None


def run_data(run: RunLike, workflow_name: str, **extra: Any) -> dict:
    data = {"workflow_run_id": run.id, "workflow_id": run.workflow_id,
            "workflow_name": workflow_name, "trigger": run.trigger, "status": run.status,
            "start_time": _iso(run.start_time), "end_time": _iso(run.end_time), **extra}
    return {k: v for k, v in data.items() if v is not None}


def step_data(run: RunLike, workflow_name: str, task: TaskLike) -> dict:
    return run_data(run, workflow_name, task_run_id=task.id, task_name=task.name,
                    task_type=task.type, task_status=task.status,
                    start_time=_iso(task.start_time), end_time=_iso(task.end_time),
                    results=task.results or None)


def start(run: RunLike, tasks: list[TaskLike], workflow_name: str, now: datetime,
          pending: dict[str, tuple[str, dict]]) -> Moves:
    """A new run starts and goes as far as it can."""
    run.status, run.phase, run.start_time = "running", "running", now
    moves = Moves([("workflow.started", run_data(run, workflow_name))])
    advance(run, tasks, workflow_name, now, pending, moves)
    return _settled(run, moves)


def advance(run: RunLike, tasks: list[TaskLike], workflow_name: str, now: datetime,
            pending: dict[str, tuple[str, dict]], moves: Moves) -> Moves:
    """Start the next task(s) until one has to wait, or the run ends. `pending` holds the
    callbacks that arrived before their task was reached, by topic."""
    while run.phase != "completed":
        current = next((t for t in tasks if t.phase != "completed"), None)
        if current is None:
            _finish(run, "succeeded", now)
            moves.events.append(("workflow.completed", run_data(run, workflow_name)))
            return moves
        if current.status != "notstarted":
            run.status = "running" if current.type == "sleep" else "waiting"
            return moves
        current.start_time, current.phase = now, "running"
        if current.type == "sleep":
            current.status = "running"
            current.due_at = now + timedelta(seconds=current.params.get("duration_s") or 0)
        else:
            current.status = "waiting"
            timeout = current.params.get("timeout_s")
            current.due_at = now + timedelta(seconds=timeout) if timeout else None
        moves.events.append(("workflow.step.started", step_data(run, workflow_name, current)))
        topic = current.params.get("topic")
        if current.type == "eventwait" and topic in pending:
            status, data = pending[topic]
            moves.used_callbacks.append(topic)
            _end_task(run, tasks, current, status, {"data": data}, workflow_name, now, pending,
                      moves)
            continue
        if current.type == "sleep" and current.due_at <= now:
            _end_task(run, tasks, current, "succeeded", {}, workflow_name, now, pending, moves)
            continue
        run.status = "running" if current.type == "sleep" else "waiting"
        return moves
    return moves


def end_task(run: RunLike, tasks: list[TaskLike], task: TaskLike, status: str, results: dict,
             workflow_name: str, now: datetime, pending: dict[str, tuple[str, dict]],
             moves: Moves) -> Moves:
    """A task ends with `status`; the run goes on, or fails with it."""
    _end_task(run, tasks, task, status, results, workflow_name, now, pending, moves)
    return _settled(run, moves)


def _settled(run: RunLike, moves: Moves) -> Moves:
    """Step events show the run as the whole move left it (SPEC §6: the last task's
    `workflow.step.completed` shows the run finished, not the `waiting` it was before)."""
    for event_type, data in moves.events:
        if event_type.startswith("workflow.step."):
            data["status"] = run.status
    return moves


def _end_task(run: RunLike, tasks: list[TaskLike], task: TaskLike, status: str, results: dict,
              workflow_name: str, now: datetime, pending: dict[str, tuple[str, dict]],
              moves: Moves) -> Moves:
    task.status, task.phase, task.end_time, task.due_at = status, "completed", now, None
    task.results = results
    if status == "succeeded":
        moves.events.append(("workflow.step.completed", step_data(run, workflow_name, task)))
        return advance(run, tasks, workflow_name, now, pending, moves)
    moves.events.append(("workflow.step.failed", step_data(run, workflow_name, task)))
    for later in tasks:
        if later.phase != "completed":
            later.status, later.phase = "cancelled", "completed"
    _finish(run, "failed", now)
    error = f"task {task.name!r} {status}"
    moves.events.append(("workflow.failed", run_data(run, workflow_name, error=error)))
    return moves


def cancel(run: RunLike, tasks: list[TaskLike], workflow_name: str, now: datetime) -> Moves:
    for task in tasks:
        if task.phase != "completed":
            task.status, task.phase, task.end_time, task.due_at = \
                "cancelled", "completed", now, None
    _finish(run, "cancelled", now)
    return Moves([("workflow.failed", run_data(run, workflow_name, error="cancelled"))])


def is_finished(run: RunLike) -> bool:
    return run.phase == "completed"


def _finish(run: RunLike, status: str, now: datetime) -> None:
    run.status, run.phase, run.end_time = status, "completed", now
