"""WorkflowService servicer: workflow CRUD and the manual trigger, organization from X-Org-Id
or the token."""

from __future__ import annotations

from typing import Any

from flowhooks.v1 import workflows_pb2, workflows_pb2_grpc
from google.protobuf import empty_pb2

from flowhooks_server.api.context import current
from flowhooks_server.api.convert import page
from flowhooks_server.api.run_convert import run_out
from flowhooks_server.api.webhooks import decode_page_token, encode_page_token
from flowhooks_server.api.workflow_convert import (
    struct_in,
    task_in,
    tasks_from_json,
    triggers_in,
    triggers_sent,
    workflow_out,
)
from flowhooks_server.domain.errors import FailedPrecondition
from flowhooks_server.domain.workflows import WorkflowSpec
from flowhooks_server.services.runs import RunEngine
from flowhooks_server.services.workflows import WorkflowManager


class WorkflowServicer(workflows_pb2_grpc.WorkflowServiceServicer):
    def __init__(self, workflows: WorkflowManager, runs: RunEngine):
        self._workflows = workflows
        self._runs = runs

    async def SubmitWorkflow(self, request, context):
        tenant = current().require_tenant()
        workflow = await self._workflows.get(tenant, request.id)
        if not workflow.spec.triggers.manual.enabled:
            raise FailedPrecondition(f"workflow {request.id!r} has its manual trigger disabled")
        view = await self._runs.start(tenant, workflow, "manual", struct_in(request, "params"))
        return run_out(view)

    async def CreateWorkflow(self, request, context):
        spec = WorkflowSpec(
            name=request.name,
            triggers=triggers_in(request.triggers),
            tasks=tuple(task_in(t) for t in request.tasks),
            params=struct_in(request, "params"),
        )
        return workflow_out(await self._workflows.create(current().require_tenant(), spec))

    async def ListWorkflows(self, request, context):
        limit, offset = page(request.page_size or request.limit, request.offset)
        found = await self._workflows.list(current().require_tenant(), limit, offset,
                                           decode_page_token(request.page_token))
        return workflows_pb2.ListWorkflowsResponse(
            workflows=[workflow_out(w) for w in found],
            next_page_token=encode_page_token(found[-1].id) if len(found) == limit else "",
        )

    async def GetWorkflow(self, request, context):
        return workflow_out(await self._workflows.get(current().require_tenant(), request.id))

    async def UpdateWorkflow(self, request, context):
        """Only fields present change; triggers are replaced one kind at a time."""
        changes: dict[str, Any] = {}
        if request.HasField("name"):
            changes["name"] = request.name
        if request.HasField("tasks"):
            changes["tasks"] = tasks_from_json(request.tasks)
        if request.HasField("params"):
            changes["params"] = struct_in(request, "params")
        replacements = triggers_sent(request.triggers) if request.HasField("triggers") else {}

        def edit(spec: WorkflowSpec) -> WorkflowSpec:
            if replacements:
                changes["triggers"] = spec.triggers.with_replaced(replacements)
            return spec.with_changes(**changes)

        return workflow_out(await self._workflows.change(current().require_tenant(), request.id,
                                                         edit))

    async def DeleteWorkflow(self, request, context):
        await self._workflows.delete(current().require_tenant(), request.id)
        return empty_pb2.Empty()
