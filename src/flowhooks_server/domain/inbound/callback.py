"""A callback (SPEC §6, `POST|GET /api/v2/callback`): the run it resolves, its topic, its
status and its optional JSON object body, every fault named in one error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowhooks_server.domain import json_doc
from flowhooks_server.domain.errors import InvalidArgument, Violations
from flowhooks_server.domain.runs import callback_status


@dataclass(frozen=True)
class Callback:
    run_id: str
    topic: str
    status: str
    data: dict[str, Any]


def parse_callback(run_id: str, topic: str, status: str, body: bytes) -> Callback:
    """The status as `domain.runs.callback_status` reads it (empty means `succeeded`); an
    empty body means `{}`."""
    problems = Violations()
    if not run_id:
        problems.add("ref", "is required: the workflow run to call back")
    if not topic:
        problems.add("topic", "is required")
    try:
        status = callback_status(status)
    except InvalidArgument as exc:
        problems.items.extend(exc.violations)
    data: Any = {}
    if body.strip():
        try:
            data = json_doc.loads(body)
        except InvalidArgument as exc:
            problems.items.extend(exc.violations)
            data = {}
        if not isinstance(data, dict):
            problems.add("body", "must be a JSON object")
    problems.raise_if_any()
    return Callback(run_id, topic, status, data)
