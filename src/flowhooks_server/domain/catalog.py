"""The event catalog (SPEC §8, ELAN's six `workflow.*` types) and subscription patterns."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

_RUN = {
    "workflow_run_id": {"type": "string", "description": "The run."},
    "workflow_id": {"type": "string", "description": "The workflow."},
    "workflow_name": {"type": "string"},
    "trigger": {"enum": ["manual", "webhook", "event", "github", "slack"]},
    "status": {
        "enum": ["notstarted", "running", "waiting", "succeeded", "failed", "cancelled",
                 "timedout"]
    },
    "test": {"type": "boolean", "description": "Set on events sent by the test endpoint."},
}
_STEP = {
    **_RUN,
    "task_run_id": {"type": "string"},
    "task_name": {"type": "string"},
    "task_type": {"enum": ["eventwait", "sleep", "external"]},
    "task_status": {"type": "string"},
}


def _schema(properties: dict, required: list[str], extra: dict | None = None) -> dict:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {**properties, **(extra or {})},
        "required": required,
        "additionalProperties": True,
    }


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    data_schema: dict


_TIMES = {"start_time": {"type": "string", "format": "date-time"},
          "end_time": {"type": "string", "format": "date-time"}}
_RESULT = {"results": {"type": "object"}, "error": {"type": "string"}}

CATALOG: tuple[EventType, ...] = (
    EventType("workflow.started", "A workflow has started execution",
              _schema(_RUN, ["workflow_run_id", "workflow_id", "status"], _TIMES)),
    EventType("workflow.completed", "A workflow has completed successfully",
              _schema(_RUN, ["workflow_run_id", "workflow_id", "status"], _TIMES)),
    EventType("workflow.failed", "A workflow has failed",
              _schema(_RUN, ["workflow_run_id", "workflow_id", "status"],
                      {**_TIMES, "error": {"type": "string"}})),
    EventType("workflow.step.started", "A workflow step has started",
              _schema(_STEP, ["workflow_run_id", "workflow_id", "task_run_id", "task_name"],
                      _TIMES)),
    EventType("workflow.step.completed", "A workflow step has completed",
              _schema(_STEP, ["workflow_run_id", "workflow_id", "task_run_id", "task_name"],
                      {**_TIMES, **_RESULT})),
    EventType("workflow.step.failed", "A workflow step has failed",
              _schema(_STEP, ["workflow_run_id", "workflow_id", "task_run_id", "task_name"],
                      {**_TIMES, **_RESULT})),
)
TYPE_NAMES = frozenset(t.name for t in CATALOG)
PATTERNS = frozenset({"*", "workflow.*", "workflow.step.*"})


def is_valid_subscription(entry: str) -> bool:
    return entry in TYPE_NAMES or entry in PATTERNS


def matches(subscriptions: list[str], event_type: str) -> bool:
    """Whether an event type is covered by a webhook's event types or patterns.
    `workflow.*` covers every workflow type, steps included; `workflow.step.*` the steps."""
    return any(entry == event_type or (entry in PATTERNS and fnmatchcase(event_type, entry))
               for entry in subscriptions)


def covering_entries(event_type: str) -> frozenset[str]:
    """The subscription entries that select `event_type`: itself, and the patterns covering it."""
    return frozenset({event_type} | {p for p in PATTERNS if fnmatchcase(event_type, p)})
