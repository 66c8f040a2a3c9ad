"""Workflow runs and task runs as protobuf messages, and as JSON with their numbers as sent.

A protobuf `Struct` holds numbers as doubles, so a run rendered through it shows `1` as `1.0`
and rounds integers above 2^53. Where flowhooks writes the JSON itself (the HttpBody answer
of `POST /api/v2/webhook`), `run_json` puts the stored documents back in place of the
Struct renderings, so the answer shows the sender's numbers (SPEC §4)."""

from __future__ import annotations

from typing import Any

from flowhooks.v1 import runs_pb2
from google.protobuf import json_format

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
    """The run as its REST JSON (lowerCamelCase), with params and results as stored."""
    out = json_format.MessageToDict(run_out(view))
    out["params"] = view.run.params
    for task, rendered in zip(view.tasks, out.get("tasks", []), strict=True):
        rendered["params"] = task.own_params
        rendered["results"] = task.results
    return out
