"""A tenant's workflow definition (SPEC §6): its five triggers with their payload conditions,
its ordered tasks, and the validation rules that name the field at fault.

    WorkflowSpec
     ├── name
     ├── triggers: Triggers {manual, webhook, event, github, slack}
     │     └── Trigger {enabled, conditions[], secret (github, slack), events[] (github)}
     │           └── Condition {field: JSONPath, operation: equals | matches | in, value | values}
     │                 (a `matches` value is a pattern RE2 can run, in linear time: SPEC §4)
     ├── tasks[]: TaskSpec, in order
     │     ├── eventwait {topic, timeout?}
     │     ├── sleep {duration}
     │     └── external
     └── params: default run parameters

A stored workflow (`Workflow`) is its spec with the identity storage gives it: id, tenant,
creation and change times.

Secrets are write-only: they are kept here for signature checks and never leave the server.
The JSON forms (`to_json`/`from_json`) are what storage keeps in the workflow's JSON columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext import parse as parse_jsonpath

from flowhooks_server.domain.conditions import pattern_refusal
from flowhooks_server.domain.errors import Violations

MAX_NAME = 255
MAX_SECRET = 255
MAX_TOPIC = 255
MAX_JSONPATH = 512
MAX_TASKS = 100
MAX_CONDITIONS = 50
MAX_EVENTS = 100

TRIGGER_KINDS = ("manual", "webhook", "event", "github", "slack")
SIGNED_TRIGGERS = ("github", "slack")
OPERATIONS = ("equals", "matches", "in")
TASK_TYPES = ("eventwait", "sleep", "external")


@dataclass(frozen=True)
class Condition:
    """A test on the triggering payload. `values` is the operand list of `in`; `value` is the
    operand of `equals` and `matches` (None when not given)."""

    field: str
    operation: str
    value: Any = None
    values: tuple[Any, ...] | None = None

    def to_json(self) -> dict:
        return {"field": self.field, "operation": self.operation, "value": self.value,
                "values": None if self.values is None else list(self.values)}

    @classmethod
    def from_json(cls, data: dict) -> Condition:
        values = data.get("values")
        return cls(field=data["field"], operation=data["operation"], value=data.get("value"),
                   values=None if values is None else tuple(values))


@dataclass(frozen=True)
class Trigger:
    enabled: bool = False
    conditions: tuple[Condition, ...] = ()
    secret: str | None = None
    events: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"enabled": self.enabled, "conditions": [c.to_json() for c in self.conditions],
                "secret": self.secret, "events": list(self.events)}

    @classmethod
    def from_json(cls, data: dict | None) -> Trigger:
        if not data:
            return DISABLED
        return cls(enabled=data["enabled"],
                   conditions=tuple(Condition.from_json(c) for c in data["conditions"]),
                   secret=data.get("secret"), events=tuple(data.get("events", ())))


DISABLED = Trigger()


@dataclass(frozen=True)
class Triggers:
    manual: Trigger = DISABLED
    webhook: Trigger = DISABLED
    event: Trigger = DISABLED
    github: Trigger = DISABLED
    slack: Trigger = DISABLED

    def items(self) -> list[tuple[str, Trigger]]:
        return [(kind, getattr(self, kind)) for kind in TRIGGER_KINDS]

    def to_json(self) -> dict:
        return {kind: trigger.to_json() for kind, trigger in self.items()}

    @classmethod
    def from_json(cls, data: dict | None) -> Triggers:
        data = data or {}
        return cls(**{kind: Trigger.from_json(data.get(kind)) for kind in TRIGGER_KINDS})

    def with_replaced(self, replacements: dict[str, Trigger]) -> Triggers:
        """Replace the triggers named; a replacement without a secret keeps the stored one,
        since secrets are write-only and a client cannot send back what it never saw."""
        merged = {}
        for kind, new in replacements.items():
            old = getattr(self, kind)
            merged[kind] = new if new.secret else replace(new, secret=old.secret)
        return replace(self, **merged)


@dataclass(frozen=True)
class TaskSpec:
    name: str
    type: str
    topic: str = ""
    timeout_s: float | None = None
    duration_s: float | None = None
    params: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"name": self.name, "type": self.type, "topic": self.topic,
                "timeout_s": self.timeout_s, "duration_s": self.duration_s,
                "params": self.params}

    @classmethod
    def from_json(cls, data: dict) -> TaskSpec:
        return cls(name=data["name"], type=data["type"], topic=data.get("topic", ""),
                   timeout_s=data.get("timeout_s"), duration_s=data.get("duration_s"),
                   params=data.get("params") or {})


@dataclass(frozen=True)
class WorkflowSpec:
    """Everything a caller can set on a workflow."""

    name: str
    triggers: Triggers = Triggers()
    tasks: tuple[TaskSpec, ...] = ()
    params: dict = field(default_factory=dict)

    def with_changes(self, **changes: Any) -> WorkflowSpec:
        return replace(self, **changes)


@dataclass(frozen=True)
class Workflow:
    """A tenant's workflow as stored: its spec, parsed, under the identity storage gave it."""

    id: str
    tenant_id: str
    spec: WorkflowSpec
    created_at: datetime
    updated_at: datetime

    @property
    def name(self) -> str:
        return self.spec.name


def validate(spec: WorkflowSpec, problems: Violations | None = None) -> None:
    """Raise InvalidArgument naming every field of `spec` that breaks SPEC §6."""
    problems = problems or Violations()
    if not spec.name.strip():
        problems.add("name", "is required")
    elif len(spec.name) > MAX_NAME:
        problems.add("name", f"must be at most {MAX_NAME} characters")
    for kind, trigger in spec.triggers.items():
        _validate_trigger(kind, trigger, f"triggers.{kind}", problems)
    _validate_tasks(spec.tasks, problems)
    problems.raise_if_any()


def jsonpath_refusal(expression: str) -> str | None:
    """Why `expression` is not a JSONPath into a payload, or None when it is one."""
    if not expression:
        return "is required"
    if len(expression) > MAX_JSONPATH:
        return f"must be at most {MAX_JSONPATH} characters"
    if not expression.startswith("$"):
        return "must be a JSONPath starting with $, e.g. $.type"
    try:
        parse_jsonpath(expression)
    except (JSONPathError, RecursionError) as exc:
        return f"is not a valid JSONPath: {exc}"
    return None


def _validate_trigger(kind: str, trigger: Trigger, at: str, problems: Violations) -> None:
    if len(trigger.conditions) > MAX_CONDITIONS:
        problems.add(f"{at}.conditions", f"must have at most {MAX_CONDITIONS} conditions")
    for i, condition in enumerate(trigger.conditions):
        _validate_condition(condition, f"{at}.conditions[{i}]", problems)
    if trigger.secret is not None:
        if kind not in SIGNED_TRIGGERS:
            problems.add(f"{at}.secret", "only github and slack triggers take a secret")
        elif len(trigger.secret) > MAX_SECRET:
            problems.add(f"{at}.secret", f"must be at most {MAX_SECRET} characters")
    if trigger.events and kind != "github":
        problems.add(f"{at}.events", "only the github trigger takes an events filter")
    if len(trigger.events) > MAX_EVENTS:
        problems.add(f"{at}.events", f"must have at most {MAX_EVENTS} entries")
    for i, event in enumerate(trigger.events):
        if not event.strip():
            problems.add(f"{at}.events[{i}]", "must not be empty")


def _validate_condition(condition: Condition, at: str, problems: Violations) -> None:
    if refusal := jsonpath_refusal(condition.field):
        problems.add(f"{at}.field", refusal)
    operation = condition.operation
    if operation not in OPERATIONS:
        problems.add(f"{at}.operation",
                     "is required" if not operation else "must be equals, matches or in")
    elif operation == "in":
        if condition.values is None:
            problems.add(f"{at}.values", "is required for the in operation")
        elif not condition.values:
            problems.add(f"{at}.values", "must list at least one value")
    elif condition.value is None:
        problems.add(f"{at}.value", f"is required for the {operation} operation")
    elif operation == "matches":
        if not isinstance(condition.value, str):
            problems.add(f"{at}.value", "must be a regular expression string")
        elif refusal := regex_refusal(condition.value):
            problems.add(f"{at}.value", refusal)


def regex_refusal(pattern: str) -> str | None:
    """Why `pattern` cannot be a `matches` operand: RE2 cannot run it (see domain/conditions),
    or it is too long; None when it can be one."""
    return pattern_refusal(pattern)


def _validate_tasks(tasks: tuple[TaskSpec, ...], problems: Violations) -> None:
    if len(tasks) > MAX_TASKS:
        problems.add("tasks", f"must have at most {MAX_TASKS} tasks")
    seen: dict[str, int] = {}
    for i, task in enumerate(tasks):
        at = f"tasks[{i}]"
        if not task.name.strip():
            problems.add(f"{at}.name", "is required")
        elif len(task.name) > MAX_NAME:
            problems.add(f"{at}.name", f"must be at most {MAX_NAME} characters")
        elif task.name in seen:
            problems.add(f"{at}.name", f"duplicates the name of tasks[{seen[task.name]}]")
        else:
            seen[task.name] = i
        if task.type not in TASK_TYPES:
            problems.add(f"{at}.type", "is required" if not task.type
                         else "must be eventwait, sleep or external")
            continue
        _validate_task_fields(task, at, problems)


def _validate_task_fields(task: TaskSpec, at: str, problems: Violations) -> None:
    if task.type == "eventwait":
        if not task.topic.strip():
            problems.add(f"{at}.topic", "is required for an eventwait task")
        elif len(task.topic) > MAX_TOPIC:
            problems.add(f"{at}.topic", f"must be at most {MAX_TOPIC} characters")
        if task.timeout_s is not None and task.timeout_s <= 0:
            problems.add(f"{at}.timeout", "must be positive")
    else:
        if task.topic:
            problems.add(f"{at}.topic", "only eventwait tasks take a topic")
        if task.timeout_s is not None:
            problems.add(f"{at}.timeout", "only eventwait tasks take a timeout")
    if task.type == "sleep":
        if task.duration_s is None:
            problems.add(f"{at}.duration", "is required for a sleep task")
        elif task.duration_s < 0:
            problems.add(f"{at}.duration", "must not be negative")
    elif task.duration_s is not None:
        problems.add(f"{at}.duration", "only sleep tasks take a duration")
