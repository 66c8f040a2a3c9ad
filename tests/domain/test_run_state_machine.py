"""The run state machine (`domain.runs`), alone: every move a run and its tasks can make, the
moves it refuses, and the exact lifecycle events each move emits. Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flowhooks_server.domain import runs
from flowhooks_server.domain.errors import FailedPrecondition, InvalidArgument
from flowhooks_server.domain.run_records import Run, TaskRun
from flowhooks_server.domain.workflows import TaskSpec, Workflow, WorkflowSpec

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
T1 = T0 + timedelta(seconds=30)
T0_TEXT = "2026-01-02T03:04:05.000000Z"
T1_TEXT = "2026-01-02T03:04:35.000000Z"
NAME = "deploy"


def new_run() -> Run:
    return Run(id="run_1", tenant_id="t", workflow_id="wf_1", trigger="manual",
               status="notstarted", phase="pending", params={}, created_at=T0)


def task(position: int, type_: str, topic: str | None = None, timeout_s: float | None = None,
         duration_s: float | None = None) -> TaskRun:
    return TaskRun(id=f"task_{position}", run_id="run_1", position=position,
                   name=f"t{position}", type=type_, status="notstarted", phase="pending",
                   params={"topic": topic, "timeout_s": timeout_s, "duration_s": duration_s,
                           "params": {}},
                   results={})


def run_event(status: str, **extra: Any) -> dict[str, Any]:
    return {"workflow_run_id": "run_1", "workflow_id": "wf_1", "workflow_name": NAME,
            "trigger": "manual", "status": status, **extra}


def step_event(status: str, position: int, type_: str, task_status: str, start: str,
               end: str | None = None, results: dict | None = None) -> dict[str, Any]:
    data = run_event(status, task_run_id=f"task_{position}", task_name=f"t{position}",
                     task_type=type_, task_status=task_status, start_time=start)
    if end is not None:
        data["end_time"] = end
    if results:
        data["results"] = results
    return data


def states(moves: runs.Moves) -> list[tuple[str, str]]:
    return [(t.status, t.phase) for t in moves.tasks]


# -- start ------------------------------------------------------------------------------------


def test_begin_makes_a_run_of_the_workflow_and_starts_it():
    spec = WorkflowSpec(name=NAME, params={"env": "dev", "n": 1}, tasks=(
        TaskSpec(name="wait", type="eventwait", topic="go", timeout_s=5),
        TaskSpec(name="nap", type="sleep", duration_s=2, params={"p": True})))
    workflow = Workflow(id="wf_1", tenant_id="t", spec=spec, created_at=T0, updated_at=T0)
    moves = runs.begin("t", workflow, "webhook", {"n": 2}, T0)
    run = moves.run
    assert run.id.startswith("run_") and run.workflow_id == "wf_1" and run.tenant_id == "t"
    assert (run.trigger, run.status, run.phase) == ("webhook", "waiting", "running")
    assert run.params == {"env": "dev", "n": 2}
    assert (run.created_at, run.start_time, run.end_time) == (T0, T0, None)
    assert [(t.position, t.name, t.type, t.run_id) for t in moves.tasks] == [
        (0, "wait", "eventwait", run.id), (1, "nap", "sleep", run.id)]
    assert [t.params for t in moves.tasks] == [
        {"topic": "go", "timeout_s": 5, "duration_s": None, "params": {}},
        {"topic": "", "timeout_s": None, "duration_s": 2, "params": {"p": True}}]
    assert moves.tasks[1].own_params == {"p": True}
    assert states(moves) == [("waiting", "running"), ("notstarted", "pending")]
    assert [event_type for event_type, _ in moves.events] == [
        "workflow.started", "workflow.step.started"]


def test_a_run_without_tasks_starts_and_completes_at_once():
    moves = runs.start(new_run(), [], NAME, T0)
    assert (moves.run.status, moves.run.phase) == ("succeeded", "completed")
    assert (moves.run.start_time, moves.run.end_time) == (T0, T0)
    assert moves.events == (
        ("workflow.started", run_event("running", start_time=T0_TEXT)),
        ("workflow.completed", run_event("succeeded", start_time=T0_TEXT, end_time=T0_TEXT)),
    )
    assert moves.used_callbacks == () and moves.keep_callback is False


def test_an_eventwait_task_waits_with_its_timeout_as_timer():
    moves = runs.start(new_run(), [task(0, "eventwait", "go", timeout_s=60),
                                   task(1, "external")], NAME, T0)
    assert (moves.run.status, moves.run.phase) == ("waiting", "running")
    assert states(moves) == [("waiting", "running"), ("notstarted", "pending")]
    assert moves.tasks[0].start_time == T0
    assert moves.tasks[0].due_at == T0 + timedelta(seconds=60)
    assert moves.tasks[1].due_at is None
    assert moves.events == (
        ("workflow.started", run_event("running", start_time=T0_TEXT)),
        ("workflow.step.started", step_event("waiting", 0, "eventwait", "waiting", T0_TEXT)),
    )


def test_an_eventwait_task_without_timeout_has_no_timer():
    moves = runs.start(new_run(), [task(0, "eventwait", "go")], NAME, T0)
    assert moves.tasks[0].due_at is None
    assert moves.run.status == "waiting"


def test_a_sleep_task_runs_until_its_duration_passes():
    moves = runs.start(new_run(), [task(0, "sleep", duration_s=5)], NAME, T0)
    assert (moves.run.status, moves.run.phase) == ("running", "running")
    assert states(moves) == [("running", "running")]
    assert moves.tasks[0].due_at == T0 + timedelta(seconds=5)
    assert moves.events[-1] == (
        "workflow.step.started", step_event("running", 0, "sleep", "running", T0_TEXT))


def test_a_zero_sleep_ends_at_once_and_the_run_goes_on():
    moves = runs.start(new_run(), [task(0, "sleep", duration_s=0), task(1, "external")],
                       NAME, T0)
    assert states(moves) == [("succeeded", "completed"), ("waiting", "running")]
    assert moves.tasks[0].due_at is None and moves.tasks[0].end_time == T0
    # Step events show the run as the whole move left it: waiting on the external task.
    assert [event_type for event_type, _ in moves.events] == [
        "workflow.started", "workflow.step.started", "workflow.step.completed",
        "workflow.step.started"]
    assert moves.events[2] == ("workflow.step.completed", step_event(
        "waiting", 0, "sleep", "succeeded", T0_TEXT, T0_TEXT))
    assert moves.events[3] == ("workflow.step.started", step_event(
        "waiting", 1, "external", "waiting", T0_TEXT))
    assert moves.run.status == "waiting"


def test_a_pending_callback_ends_its_eventwait_task_when_reached():
    pending = {"go": ("succeeded", {"n": 1})}
    moves = runs.start(new_run(), [task(0, "eventwait", "go", timeout_s=9)], NAME, T0,
                       pending)
    assert moves.used_callbacks == ("go",)
    assert states(moves) == [("succeeded", "completed")]
    assert moves.tasks[0].results == {"data": {"n": 1}}
    assert (moves.run.status, moves.run.phase) == ("succeeded", "completed")
    assert moves.events[-2:] == (
        ("workflow.step.completed", step_event("succeeded", 0, "eventwait", "succeeded",
                                               T0_TEXT, T0_TEXT, {"data": {"n": 1}})),
        ("workflow.completed", run_event("succeeded", start_time=T0_TEXT, end_time=T0_TEXT)),
    )


def test_a_failed_pending_callback_fails_the_run_when_reached():
    moves = runs.start(new_run(), [task(0, "eventwait", "go"), task(1, "external")], NAME, T0,
                       {"go": ("failed", {})})
    assert states(moves) == [("failed", "completed"), ("cancelled", "completed")]
    assert (moves.run.status, moves.run.phase) == ("failed", "completed")
    assert moves.events[-1] == ("workflow.failed", run_event(
        "failed", start_time=T0_TEXT, end_time=T0_TEXT, error="task 't0' failed"))


def test_start_leaves_its_input_unchanged():
    run, tasks = new_run(), (task(0, "external"),)
    runs.start(run, tasks, NAME, T0)
    assert run.status == "notstarted" and tasks[0].status == "notstarted"


# -- callbacks --------------------------------------------------------------------------------


def waiting_on(*tasks: TaskRun) -> runs.Moves:
    return runs.start(new_run(), list(tasks), NAME, T0)


def test_a_succeeded_callback_ends_the_waiting_task_and_the_run_goes_on():
    before = waiting_on(task(0, "eventwait", "go", timeout_s=60), task(1, "external"))
    moves = runs.callback(before.run, before.tasks, "go", "succeeded", {"ok": True}, NAME, T1,
                          {})
    assert states(moves) == [("succeeded", "completed"), ("waiting", "running")]
    assert moves.tasks[0].results == {"data": {"ok": True}}
    assert (moves.tasks[0].end_time, moves.tasks[0].due_at) == (T1, None)
    assert moves.tasks[1].start_time == T1
    assert moves.keep_callback is False
    assert moves.events == (
        ("workflow.step.completed", step_event("waiting", 0, "eventwait", "succeeded",
                                               T0_TEXT, T1_TEXT, {"data": {"ok": True}})),
        ("workflow.step.started", step_event("waiting", 1, "external", "waiting", T1_TEXT)),
    )


def test_a_failed_callback_fails_the_run_and_cancels_the_tasks_after():
    before = waiting_on(task(0, "eventwait", "go"), task(1, "sleep", duration_s=5))
    moves = runs.callback(before.run, before.tasks, "go", "failed", {}, NAME, T1, {})
    assert states(moves) == [("failed", "completed"), ("cancelled", "completed")]
    assert moves.tasks[1].end_time is None  # never started
    assert (moves.run.status, moves.run.phase, moves.run.end_time) == \
        ("failed", "completed", T1)
    assert moves.events == (
        ("workflow.step.failed", step_event("failed", 0, "eventwait", "failed", T0_TEXT,
                                            T1_TEXT, {"data": {}})),
        ("workflow.failed", run_event("failed", start_time=T0_TEXT, end_time=T1_TEXT,
                                      error="task 't0' failed")),
    )


def test_the_last_callback_completes_the_run():
    before = waiting_on(task(0, "eventwait", "go"))
    moves = runs.callback(before.run, before.tasks, "go", "succeeded", {}, NAME, T1, {})
    assert (moves.run.status, moves.run.phase) == ("succeeded", "completed")
    assert moves.events == (
        ("workflow.step.completed", step_event("succeeded", 0, "eventwait", "succeeded",
                                               T0_TEXT, T1_TEXT, {"data": {}})),
        ("workflow.completed", run_event("succeeded", start_time=T0_TEXT, end_time=T1_TEXT)),
    )


def test_a_callback_for_a_task_not_reached_yet_is_to_be_kept():
    before = waiting_on(task(0, "external"), task(1, "eventwait", "later"))
    moves = runs.callback(before.run, before.tasks, "later", "succeeded", {}, NAME, T1, {})
    assert moves.keep_callback is True
    assert moves.events == () and moves.tasks == before.tasks and moves.run == before.run


def test_a_callback_on_another_topic_changes_nothing():
    before = waiting_on(task(0, "eventwait", "go"))
    moves = runs.callback(before.run, before.tasks, "other", "succeeded", {}, NAME, T1, {})
    assert (moves.run, moves.tasks, moves.events, moves.keep_callback) == \
        (before.run, before.tasks, (), False)


def test_one_callback_ends_each_task_on_its_topic_the_run_reaches():
    before = waiting_on(task(0, "eventwait", "go"), task(1, "eventwait", "go"))
    moves = runs.callback(before.run, before.tasks, "go", "succeeded", {"n": 2}, NAME, T1, {})
    assert states(moves) == [("succeeded", "completed"), ("succeeded", "completed")]
    assert moves.run.status == "succeeded"
    assert [event_type for event_type, _ in moves.events] == [
        "workflow.step.completed", "workflow.step.started", "workflow.step.completed",
        "workflow.completed"]


def test_a_callback_reaching_a_task_uses_its_pending_callback():
    before = waiting_on(task(0, "eventwait", "a"), task(1, "eventwait", "b"))
    moves = runs.callback(before.run, before.tasks, "a", "succeeded", {}, NAME, T1,
                          {"b": ("succeeded", {"early": 1})})
    assert moves.used_callbacks == ("b",)
    assert moves.tasks[1].results == {"data": {"early": 1}}
    assert moves.run.status == "succeeded"


def test_a_callback_on_a_finished_run_is_refused():
    done = waiting_on()
    with pytest.raises(FailedPrecondition, match="workflow run 'run_1' has already finished"):
        runs.callback(done.run, done.tasks, "go", "succeeded", {}, NAME, T1, {})


def test_awaits_tells_whether_a_task_waits_on_the_topic():
    before = waiting_on(task(0, "eventwait", "go"), task(1, "eventwait", "later"))
    assert runs.awaits(before.tasks, "go") is True
    assert runs.awaits(before.tasks, "later") is False


@pytest.mark.parametrize(("given", "status"), [
    ("", "succeeded"), ("succeeded", "succeeded"), ("FAILED", "failed"),
    ("Succeeded", "succeeded")])
def test_callback_status_normalises(given: str, status: str):
    assert runs.callback_status(given) == status


@pytest.mark.parametrize("given", ["timedout", "cancelled", "ok", "running"])
def test_callback_status_refuses_anything_else(given: str):
    with pytest.raises(InvalidArgument) as caught:
        runs.callback_status(given)
    assert caught.value.violations == [("status", "must be succeeded or failed")]


# -- a worker ending an external task ---------------------------------------------------------


def test_a_worker_ends_its_external_task_with_results():
    before = waiting_on(task(0, "external"), task(1, "external"))
    moves = runs.end_task(before.run, before.tasks, "task_0", "succeeded", {"r": 1}, NAME, T1,
                          {})
    assert moves.task("task_0").results == {"r": 1}
    assert states(moves) == [("succeeded", "completed"), ("waiting", "running")]
    assert moves.events == (
        ("workflow.step.completed", step_event("waiting", 0, "external", "succeeded",
                                               T0_TEXT, T1_TEXT, {"r": 1})),
        ("workflow.step.started", step_event("waiting", 1, "external", "waiting", T1_TEXT)),
    )


def test_a_worker_failing_its_task_fails_the_run():
    before = waiting_on(task(0, "external"))
    moves = runs.end_task(before.run, before.tasks, "task_0", "failed", {}, NAME, T1, {})
    assert (moves.run.status, moves.run.phase) == ("failed", "completed")
    assert moves.events[-1] == ("workflow.failed", run_event(
        "failed", start_time=T0_TEXT, end_time=T1_TEXT, error="task 't0' failed"))


def test_a_worker_cannot_end_a_task_that_is_not_external():
    before = waiting_on(task(0, "eventwait", "go"))
    with pytest.raises(FailedPrecondition, match="task run 'task_0' is not an external task"):
        runs.end_task(before.run, before.tasks, "task_0", "succeeded", {}, NAME, T1, {})


def test_a_worker_cannot_end_a_task_that_is_not_waiting():
    before = waiting_on(task(0, "external"), task(1, "external"))
    with pytest.raises(FailedPrecondition, match="task run 'task_1' is notstarted, not waiting"):
        runs.end_task(before.run, before.tasks, "task_1", "succeeded", {}, NAME, T1, {})
    done = runs.end_task(before.run, before.tasks, "task_0", "succeeded", {}, NAME, T1, {})
    with pytest.raises(FailedPrecondition, match="task run 'task_0' is succeeded, not waiting"):
        runs.end_task(done.run, done.tasks, "task_0", "succeeded", {}, NAME, T1, {})


# -- timers -----------------------------------------------------------------------------------


def test_a_sleep_succeeds_when_its_timer_fires():
    before = waiting_on(task(0, "sleep", duration_s=10), task(1, "external"))
    moves = runs.fire_timer(before.run, before.tasks, NAME, T0 + timedelta(seconds=10), {})
    assert states(moves) == [("succeeded", "completed"), ("waiting", "running")]
    assert moves.events[0][0] == "workflow.step.completed"
    assert moves.events[0][1]["task_status"] == "succeeded"
    assert moves.events[0][1]["status"] == "waiting"


def test_an_eventwait_times_out_and_fails_the_run():
    before = waiting_on(task(0, "eventwait", "go", timeout_s=30))
    moves = runs.fire_timer(before.run, before.tasks, NAME, T1, {})
    assert states(moves) == [("timedout", "completed")]
    assert (moves.run.status, moves.run.phase) == ("failed", "completed")
    assert moves.events == (
        ("workflow.step.failed", step_event("failed", 0, "eventwait", "timedout", T0_TEXT,
                                            T1_TEXT)),
        ("workflow.failed", run_event("failed", start_time=T0_TEXT, end_time=T1_TEXT,
                                      error="task 't0' timedout")),
    )


def test_a_timer_not_due_yet_changes_nothing():
    before = waiting_on(task(0, "sleep", duration_s=60))
    moves = runs.fire_timer(before.run, before.tasks, NAME, T1, {})
    assert (moves.run, moves.tasks, moves.events) == (before.run, before.tasks, ())


# -- cancel -----------------------------------------------------------------------------------


def test_cancel_ends_every_open_task_and_the_run():
    before = waiting_on(task(0, "sleep", duration_s=0), task(1, "eventwait", "go", timeout_s=5),
                        task(2, "external"))
    moves = runs.cancel(before.run, before.tasks, NAME, T1)
    assert states(moves) == [("succeeded", "completed"), ("cancelled", "completed"),
                             ("cancelled", "completed")]
    assert [t.end_time for t in moves.tasks] == [T0, T1, T1]
    assert [t.due_at for t in moves.tasks] == [None, None, None]
    assert (moves.run.status, moves.run.phase, moves.run.end_time) == \
        ("cancelled", "completed", T1)
    assert moves.events == (("workflow.failed", run_event(
        "cancelled", start_time=T0_TEXT, end_time=T1_TEXT, error="cancelled")),)
    assert runs.is_finished(moves.run)


def test_a_finished_run_cannot_be_cancelled():
    before = waiting_on(task(0, "external"))
    cancelled = runs.cancel(before.run, before.tasks, NAME, T1)
    with pytest.raises(FailedPrecondition, match="workflow run 'run_1' has already finished"):
        runs.cancel(cancelled.run, cancelled.tasks, NAME, T1)


def test_is_finished_follows_the_phase():
    assert not runs.is_finished(new_run())
    assert not runs.is_finished(waiting_on(task(0, "external")).run)
    assert runs.is_finished(waiting_on().run)
