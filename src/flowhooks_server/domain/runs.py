"""How a workflow run moves (SPEC §6): tasks in order, each run's and task's status and
phase, and the lifecycle events each move emits. Pure rules over the frozen `Run`/`TaskRun`
values of `domain.run_records`: every move takes a run with its tasks and returns `Moves`,
the run and tasks as the move left them plus the events to publish; the caller stores both
in one transaction (the outbox).

Run status: notstarted → running ⇄ waiting → succeeded | failed | cancelled (phase pending →
running → completed). A task: notstarted → running (sleep) | waiting (eventwait, external) →
succeeded | failed | timedout | cancelled.

A callback whose eventwait task is not reached yet is kept by the caller (`Moves.keep_callback`)
and handed back in `pending` (by topic) to later moves, which use it when the task starts.

Refused moves raise: a callback or a cancel of a finished run, a worker ending a task that is
not an external task waiting for it (`FailedPrecondition`); a status other than succeeded or
failed (`InvalidArgument`, from `callback_status`)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any

from flowhooks_server.domain.errors import FailedPrecondition, InvalidArgument
from flowhooks_server.domain.payloads import rfc3339
from flowhooks_server.domain.run_records import Run, TaskRun
from flowhooks_server.domain.workflows import Workflow
from flowhooks_server.ids import new_id

CALLBACK_STATUSES = ("succeeded", "failed")
FINISHED = ("succeeded", "failed", "cancelled", "timedout")

Pending = dict[str, tuple[str, dict[str, Any]]]
Event = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Moves:
    """What a move produced: the run and its tasks after it, the lifecycle events to publish
    (in order), the pending callbacks it used up, and whether a callback must be kept for a
    task not reached yet."""

    run: Run
    tasks: tuple[TaskRun, ...]
    events: tuple[Event, ...] = ()
    used_callbacks: tuple[str, ...] = ()
    keep_callback: bool = False

    def task(self, task_id: str) -> TaskRun:
        return next(t for t in self.tasks if t.id == task_id)


def is_finished(run: Run) -> bool:
    return run.phase == "completed"


def awaits(tasks: tuple[TaskRun, ...] | list[TaskRun], topic: str) -> bool:
    """Whether an eventwait task waits on `topic` now."""
    return any(t.type == "eventwait" and t.topic == topic and t.status == "waiting"
               for t in tasks)


def callback_status(status: str) -> str:
    """The status a callback or a worker reports, lowercased; empty means succeeded."""
    status = status.lower() or "succeeded"
    if status not in CALLBACK_STATUSES:
        raise InvalidArgument("status", "must be succeeded or failed")
    return status


def _refuse_finished(run: Run) -> None:
    if is_finished(run):
        raise FailedPrecondition(f"workflow run {run.id!r} has already finished")


def begin(tenant: str, workflow: Workflow, trigger: str, params: dict[str, Any],
          now: datetime) -> Moves:
    """A new run of `workflow` (its params over the workflow's defaults, a task run per task),
    started and moved as far as it goes at once."""
    run = Run(id=new_id("run"), tenant_id=tenant, workflow_id=workflow.id, trigger=trigger,
              status="notstarted", phase="pending",
              params={**workflow.spec.params, **params}, created_at=now)
    tasks = [TaskRun(id=new_id("task"), run_id=run.id, position=i, name=t.name, type=t.type,
                     status="notstarted", phase="pending",
                     params={"topic": t.topic, "timeout_s": t.timeout_s,
                             "duration_s": t.duration_s, "params": t.params or {}},
                     results={})
             for i, t in enumerate(workflow.spec.tasks)]
    return start(run, tasks, workflow.name, now)


def start(run: Run, tasks: tuple[TaskRun, ...] | list[TaskRun], workflow_name: str,
          now: datetime, pending: Pending | None = None) -> Moves:
    """A new run starts and goes as far as it can."""
    move = _Move(run, tasks, workflow_name, now, pending or {})
    move.run.status, move.run.phase, move.run.start_time = "running", "running", now
    move.events.append(("workflow.started", move.run_data()))
    move.advance()
    return move.settled()


def end_task(run: Run, tasks: tuple[TaskRun, ...] | list[TaskRun], task_id: str, status: str,
             results: dict[str, Any], workflow_name: str, now: datetime,
             pending: Pending) -> Moves:
    """A worker ends its external task with `status`; the run goes on, or fails with it."""
    move = _Move(run, tasks, workflow_name, now, pending)
    task = move.task(task_id)
    if task.type != "external":
        raise FailedPrecondition(f"task run {task_id!r} is not an external task")
    if task.status != "waiting":
        raise FailedPrecondition(f"task run {task_id!r} is {task.status}, not waiting")
    move.end_task(task, status, results)
    return move.settled()


def callback(run: Run, tasks: tuple[TaskRun, ...] | list[TaskRun], topic: str, status: str,
             data: dict[str, Any], workflow_name: str, now: datetime,
             pending: Pending) -> Moves:
    """A callback for `topic`: it ends every eventwait task on the topic that waits, in order
    (one the run reaches meanwhile included); if a task on the topic is not reached yet, the
    callback is to be kept for it (`keep_callback`)."""
    _refuse_finished(run)
    move = _Move(run, tasks, workflow_name, now, pending)
    keep = False
    for task in move.tasks:
        if task.type != "eventwait" or task.params.get("topic") != topic:
            continue
        if task.status == "waiting":
            move.end_task(task, status, {"data": data})
        elif task.status == "notstarted":
            keep = True
        if move.run.phase == "completed":
            break
    return replace(move.settled(), keep_callback=keep)


def fire_timer(run: Run, tasks: tuple[TaskRun, ...] | list[TaskRun], workflow_name: str,
               now: datetime, pending: Pending) -> Moves:
    """The first task whose timer has passed ends: a sleep succeeds, a wait times out."""
    move = _Move(run, tasks, workflow_name, now, pending)
    for task in move.tasks:
        if task.status in ("running", "waiting") and task.due_at and task.due_at <= now:
            move.end_task(task, "succeeded" if task.type == "sleep" else "timedout", {})
            break
    return move.settled()


def cancel(run: Run, tasks: tuple[TaskRun, ...] | list[TaskRun], workflow_name: str,
           now: datetime) -> Moves:
    """Every task not completed yet is cancelled, and the run with them."""
    _refuse_finished(run)
    move = _Move(run, tasks, workflow_name, now, {})
    for task in move.tasks:
        if task.phase != "completed":
            task.status, task.phase, task.end_time, task.due_at = \
                "cancelled", "completed", now, None
    move.finish("cancelled")
    move.events.append(("workflow.failed", move.run_data(error="cancelled")))
    return move.settled()


# -- the working state of one move ----------------------------------------------------------


@dataclass
class _RunState:
    """A mutable copy of a `Run` while a move works on it."""

    id: str
    tenant_id: str
    workflow_id: str
    trigger: str
    status: str
    phase: str
    params: dict[str, Any]
    created_at: datetime
    start_time: datetime | None
    end_time: datetime | None


@dataclass
class _TaskState:
    """A mutable copy of a `TaskRun` while a move works on it."""

    id: str
    run_id: str
    position: int
    name: str
    type: str
    status: str
    phase: str
    params: dict[str, Any]
    results: dict[str, Any]
    start_time: datetime | None
    end_time: datetime | None
    due_at: datetime | None


def _shallow(value: Any) -> dict[str, Any]:
    return {f.name: getattr(value, f.name) for f in fields(value)}


def _iso(moment: datetime | None) -> str | None:
    return rfc3339(moment) if moment else None


class _Move:
    """One move in progress: working copies of the run and its tasks, and what it emitted."""

    def __init__(self, run: Run, tasks: tuple[TaskRun, ...] | list[TaskRun],
                 workflow_name: str, now: datetime, pending: Pending):
        self.run = _RunState(**_shallow(run))
        self.tasks = [_TaskState(**_shallow(t)) for t in tasks]
        self.workflow_name, self.now, self.pending = workflow_name, now, pending
        self.events: list[Event] = []
        self.used_callbacks: list[str] = []

    def task(self, task_id: str) -> _TaskState:
        return next(t for t in self.tasks if t.id == task_id)

    def run_data(self, **extra: Any) -> dict[str, Any]:
        run = self.run
        data = {"workflow_run_id": run.id, "workflow_id": run.workflow_id,
                "workflow_name": self.workflow_name, "trigger": run.trigger,
                "status": run.status, "start_time": _iso(run.start_time),
                "end_time": _iso(run.end_time), **extra}
        return {k: v for k, v in data.items() if v is not None}

    def step_data(self, task: _TaskState) -> dict[str, Any]:
        return self.run_data(task_run_id=task.id, task_name=task.name, task_type=task.type,
                             task_status=task.status, start_time=_iso(task.start_time),
                             end_time=_iso(task.end_time), results=task.results or None)

    def advance(self) -> None:
        """Start the next task(s) until one has to wait, or the run ends."""
        run = self.run
        while run.phase != "completed":
            current = next((t for t in self.tasks if t.phase != "completed"), None)
            if current is None:
                self.finish("succeeded")
                self.events.append(("workflow.completed", self.run_data()))
                return
            if current.status != "notstarted":
                run.status = "running" if current.type == "sleep" else "waiting"
                return
            current.start_time, current.phase = self.now, "running"
            if current.type == "sleep":
                current.status = "running"
                wakes = self.now + timedelta(seconds=current.params.get("duration_s") or 0)
                current.due_at = wakes
            else:
                current.status = "waiting"
                timeout = current.params.get("timeout_s")
                current.due_at = self.now + timedelta(seconds=timeout) if timeout else None
            self.events.append(("workflow.step.started", self.step_data(current)))
            topic = current.params.get("topic")
            if current.type == "eventwait" and topic in self.pending:
                status, data = self.pending[topic]
                self.used_callbacks.append(topic)
                self.end_task(current, status, {"data": data})
                continue
            if current.type == "sleep" and wakes <= self.now:
                self.end_task(current, "succeeded", {})
                continue
            run.status = "running" if current.type == "sleep" else "waiting"
            return

    def end_task(self, task: _TaskState, status: str, results: dict[str, Any]) -> None:
        task.status, task.phase, task.end_time, task.due_at = status, "completed", self.now, None
        task.results = results
        if status == "succeeded":
            self.events.append(("workflow.step.completed", self.step_data(task)))
            self.advance()
            return
        self.events.append(("workflow.step.failed", self.step_data(task)))
        for later in self.tasks:
            if later.phase != "completed":
                later.status, later.phase = "cancelled", "completed"
        self.finish("failed")
        self.events.append(("workflow.failed",
                            self.run_data(error=f"task {task.name!r} {status}")))

    def finish(self, status: str) -> None:
        self.run.status, self.run.phase, self.run.end_time = status, "completed", self.now

    def settled(self) -> Moves:
        """The move's outcome. Step events show the run as the whole move left it (SPEC §6:
        the last task's `workflow.step.completed` shows the run finished, not the `waiting`
        it was before)."""
        for event_type, data in self.events:
            if event_type.startswith("workflow.step."):
                data["status"] = self.run.status
        return Moves(Run(**_shallow(self.run)), tuple(TaskRun(**_shallow(t)) for t in self.tasks),
                     tuple(self.events), tuple(self.used_callbacks))
