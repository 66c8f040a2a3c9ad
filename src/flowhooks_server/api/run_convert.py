"""Workflow runs and task runs as protobuf messages, and as JSON with their numbers as sent.

A protobuf `Struct` holds numbers as doubles, so a run rendered through it shows `1` as `1.0`
and rounds integers above 2^53. Where flowhooks writes the JSON itself (the HttpBody answer
of `POST /api/v2/webhook`), `run_json` puts the stored documents back in place of the
Struct renderings, so the answer shows the sender's numbers (SPEC §4)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flowhooks.v1 import runs_pb2

from flowhooks_server.api.convert import timestamp
from flowhooks_server.api.workflow_convert import struct_out
from flowhooks_server.domain.run_records import RunView, TaskRun


def task_out(task: TaskRun) -> runs_pb2.TaskRun:
    return runs_pb2.TaskRun(
        id=task.id, name=task.name, type=task.type, status=task.status, phase=task.phase,
        params=struct_out(task.own_params), results=struct_out(task.results),
        start_time=timestamp(task.start_time), end_time=timestamp(task.end_time),
        workflow_run_id=task.run_id)


def run_out(view: RunView) -> runs_pb2.WorkflowRun:
    run = view.run
    return runs_pb2.WorkflowRun(
        id=run.id, workflow_ref=run.workflow_id, tenant=run.tenant_id, trigger=run.trigger,
        status=run.status, phase=run.phase, params=struct_out(run.params),
        tasks=[task_out(t) for t in view.tasks], created_at=timestamp(run.created_at),
        start_time=timestamp(run.start_time), end_time=timestamp(run.end_time))


def run_json(view: RunView) -> dict[str, Any]:
    """The run as its REST JSON (lowerCamelCase), with params and results as stored.

    Written directly rather than through `run_out` and `json_format.MessageToDict` (the
    hot path of `POST /api/v2/webhook`), with the same keys in the same order: a string field
    is left out when empty, a timestamp when unset, `tasks` when there are none (proto3 JSON
    mapping), and `params`/`results` are always present."""
    run = view.run
    out: dict[str, Any] = {}
    _put(out, "id", run.id)
    _put(out, "workflowRef", run.workflow_id)
    _put(out, "tenant", run.tenant_id)
    _put(out, "trigger", run.trigger)
    _put(out, "status", run.status)
    _put(out, "phase", run.phase)
    out["params"] = run.params
    if view.tasks:
        out["tasks"] = [_task_json(task) for task in view.tasks]
    _put_time(out, "createdAt", run.created_at)
    _put_time(out, "startTime", run.start_time)
    _put_time(out, "endTime", run.end_time)
    return out


def _task_json(task: TaskRun) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "id", task.id)
    _put(out, "name", task.name)
    _put(out, "type", task.type)
    _put(out, "status", task.status)
    _put(out, "phase", task.phase)
    out["params"] = task.own_params
    out["results"] = task.results
    _put_time(out, "startTime", task.start_time)
    _put_time(out, "endTime", task.end_time)
    _put(out, "workflowRunId", task.run_id)
    return out


def _put(out: dict[str, Any], key: str, value: str) -> None:
    if value:
        out[key] = value


def _put_time(out: dict[str, Any], key: str, moment: datetime | None) -> None:
    """A Timestamp's JSON (RFC 3339 in UTC with `Z`, and 0, 3 or 6 fraction digits, as
    `Timestamp.ToJsonString` writes a microsecond-precision time)."""
    if moment is None:
        return
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    text = (f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
            f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}")
    micros = utc.microsecond
    if micros:
        text += f".{micros // 1000:03d}" if micros % 1000 == 0 else f".{micros:06d}"
    out[key] = text + "Z"
