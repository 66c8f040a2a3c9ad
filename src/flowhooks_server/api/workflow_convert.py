"""Proto <-> domain for workflows: triggers and their conditions, tasks, params. Secrets go in
and never come out: a trigger shows only `secretSet`."""

from __future__ import annotations

from typing import Any, cast

from flowhooks.v1 import workflows_pb2
from google.protobuf import json_format, struct_pb2

from flowhooks_server.api.convert import timestamp
from flowhooks_server.api.webhook_convert import duration, seconds
from flowhooks_server.domain.errors import InvalidArgument
from flowhooks_server.domain.workflows import (
    DISABLED,
    TRIGGER_KINDS,
    Condition,
    TaskSpec,
    Trigger,
    Triggers,
    Workflow,
)


def struct_in(message, field: str) -> dict:
    return json_format.MessageToDict(getattr(message, field)) if message.HasField(field) else {}


def struct_out(data: dict) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(data)
    return out


def _value_out(value) -> struct_pb2.Value:
    return json_format.ParseDict(value, struct_pb2.Value())


def _list_out(values) -> struct_pb2.ListValue:
    out = struct_pb2.ListValue()
    out.extend(list(values))
    return out


def condition_in(message: workflows_pb2.Condition) -> Condition:
    value: Any = json_format.MessageToDict(message.value) if message.HasField("value") else None
    values = (tuple(cast(list[Any], json_format.MessageToDict(message.values)))
              if message.HasField("values") else None)
    if message.operation == "in" and values is None and isinstance(value, list):
        value, values = None, tuple(value)  # `"value": [...]` is an accepted spelling of `in`
    return Condition(field=message.field, operation=message.operation, value=value,
                     values=values)


def trigger_in(message: workflows_pb2.Trigger) -> Trigger:
    return Trigger(
        enabled=message.enabled,
        conditions=tuple(condition_in(c) for c in message.conditions),
        secret=message.secret or None,
        events=tuple(message.events),
    )


def triggers_in(message: workflows_pb2.Triggers) -> Triggers:
    """Every trigger; those left out are disabled."""
    return Triggers(**{kind: trigger_in(getattr(message, kind)) if message.HasField(kind)
                       else DISABLED for kind in TRIGGER_KINDS})


def triggers_sent(message: workflows_pb2.Triggers) -> dict[str, Trigger]:
    """Only the triggers present in the message, for a partial update."""
    return {kind: trigger_in(getattr(message, kind))
            for kind in TRIGGER_KINDS if message.HasField(kind)}


def task_in(message: workflows_pb2.Task) -> TaskSpec:
    return TaskSpec(
        name=message.name,
        type=message.type,
        topic=message.topic,
        timeout_s=seconds(message.timeout) if message.HasField("timeout") else None,
        duration_s=seconds(message.duration) if message.HasField("duration") else None,
        params=struct_in(message, "params"),
    )


def tasks_from_json(values: struct_pb2.ListValue, field: str = "tasks") -> tuple[TaskSpec, ...]:
    """A JSON array of Task objects (the PATCH form), in either field spelling. Unknown
    fields are ignored, as Envoy ignores them in the typed create body."""
    tasks = []
    for i, item in enumerate(json_format.MessageToDict(values)):
        if not isinstance(item, dict):
            raise InvalidArgument(f"{field}[{i}]", "must be a task object")
        try:
            tasks.append(task_in(json_format.ParseDict(
                item, workflows_pb2.Task(), ignore_unknown_fields=True)))
        except json_format.ParseError as exc:
            raise InvalidArgument(f"{field}[{i}]", str(exc)) from None
    return tuple(tasks)


def _condition_out(condition: Condition) -> workflows_pb2.Condition:
    out = workflows_pb2.Condition(field=condition.field, operation=condition.operation)
    if condition.value is not None:
        out.value.CopyFrom(_value_out(condition.value))
    if condition.values is not None:
        out.values.CopyFrom(_list_out(condition.values))
    return out


def _trigger_out(trigger: Trigger) -> workflows_pb2.Trigger:
    return workflows_pb2.Trigger(
        enabled=trigger.enabled,
        conditions=[_condition_out(c) for c in trigger.conditions],
        events=list(trigger.events),
        secret_set=bool(trigger.secret),
    )


def _task_out(task: TaskSpec) -> workflows_pb2.Task:
    out = workflows_pb2.Task(name=task.name, type=task.type, topic=task.topic,
                             params=struct_out(task.params))
    if task.timeout_s is not None:
        out.timeout.CopyFrom(duration(task.timeout_s))
    if task.duration_s is not None:
        out.duration.CopyFrom(duration(task.duration_s))
    return out


def workflow_out(workflow: Workflow) -> workflows_pb2.Workflow:
    spec = workflow.spec
    return workflows_pb2.Workflow(
        id=workflow.id,
        name=spec.name,
        tenant=workflow.tenant_id,
        triggers=workflows_pb2.Triggers(
            **{kind: _trigger_out(trigger) for kind, trigger in spec.triggers.items()}),
        tasks=[_task_out(t) for t in spec.tasks],
        params=struct_out(spec.params),
        created_at=timestamp(workflow.created_at),
        updated_at=timestamp(workflow.updated_at),
    )
