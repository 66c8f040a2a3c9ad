"""`api.run_convert.run_json` writes the webhook answer without going through protobuf: it must
give the very document (keys, order, values) that rendering `run_out` with
`json_format.MessageToDict` and putting the stored params back in place gives."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st

from flowhooks_server.api.run_convert import run_json, run_out
from flowhooks_server.domain.run_records import Run, RunView, TaskRun


def through_protobuf(view: RunView) -> dict:
    """The rendering run_json replaces, kept here as the reference."""
    out = json_format.MessageToDict(run_out(view))
    out["params"] = view.run.params
    for task, rendered in zip(view.tasks, out.get("tasks", []), strict=True):
        rendered["params"] = task.own_params
        rendered["results"] = task.results
    return out


names = st.sampled_from(["", "a", "run_01", "waiting", "ü", "x" * 40])
moments = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9998, 12, 31))
zones = st.sampled_from([None, UTC, timezone(timedelta(hours=5, minutes=30)),
                         timezone(timedelta(hours=-8))])
micro = st.sampled_from([0, 1000, 123000, 1, 999999, 500500])


@st.composite
def instants(draw) -> datetime:
    moment = draw(moments).replace(microsecond=draw(micro))
    zone = draw(zones)
    return moment if zone is None else moment.replace(tzinfo=zone)


maybe_instants = st.none() | instants()
docs = st.dictionaries(st.sampled_from(["a", "data", "n", "event"]),
                       st.integers(-10, 10) | st.text(max_size=5) | st.booleans() | st.none(),
                       max_size=3)


@st.composite
def views(draw) -> RunView:
    run = Run(id=draw(names), tenant_id=draw(names), workflow_id=draw(names),
              trigger=draw(names), status=draw(names), phase=draw(names), params=draw(docs),
              created_at=draw(instants()), start_time=draw(maybe_instants),
              end_time=draw(maybe_instants))
    tasks = tuple(
        TaskRun(id=draw(names), run_id=draw(names), position=i, name=draw(names),
                type=draw(names), status=draw(names), phase=draw(names),
                params=draw(st.sampled_from([{}, {"topic": "t"}])) | (
                    {"params": draw(docs)} if draw(st.booleans()) else {}),
                results=draw(docs), start_time=draw(maybe_instants),
                end_time=draw(maybe_instants))
        for i in range(draw(st.integers(0, 3))))
    return RunView(run, tasks)


@settings(max_examples=400, deadline=None)
@given(views())
def test_run_json_is_the_protobuf_rendering(view: RunView) -> None:
    ours, reference = run_json(view), through_protobuf(view)
    assert json.dumps(ours) == json.dumps(reference)


def test_a_typical_run() -> None:
    created = datetime(2026, 12, 3, 15, 40, 4, 123456, tzinfo=UTC)
    view = RunView(
        Run("run_1", "t", "wf_1", "webhook", "waiting", "running", {"data": {"n": 1}},
            created, created, None),
        (TaskRun("tr_1", "run_1", 0, "wait", "eventwait", "waiting", "running",
                 {"topic": "done"}, {}, created),))
    assert run_json(view) == through_protobuf(view)
    assert run_json(view)["createdAt"] == "2026-12-03T15:40:04.123456Z"
    assert run_json(view)["params"] == {"data": {"n": 1}}
