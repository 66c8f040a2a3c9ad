"""WorkflowRunService servicer: runs and task runs, organization from X-Org-Id or the token."""

from __future__ import annotations

import asyncio

from flowhooks.v1 import runs_pb2, runs_pb2_grpc

from flowhooks_server.api.context import current
from flowhooks_server.api.convert import page
from flowhooks_server.api.run_convert import run_out, task_out
from flowhooks_server.api.workflow_convert import struct_in
from flowhooks_server.services.runs import RunEngine

EXTERNAL_POLL_S = 0.2


class WorkflowRunServicer(runs_pb2_grpc.WorkflowRunServiceServicer):
    def __init__(self, runs: RunEngine):
        self._runs = runs

    async def GetWorkflowRun(self, request, context):
        return run_out(await self._runs.get(current().require_tenant(), request.id))

    async def ListWorkflowRuns(self, request, context):
        limit, offset = page(request.page_size or request.limit, request.offset)
        views = await self._runs.list(current().require_tenant(), request.workflow,
                                      request.status, limit, offset)
        return runs_pb2.ListWorkflowRunsResponse(workflow_runs=[run_out(v) for v in views])

    async def CancelWorkflowRun(self, request, context):
        return run_out(await self._runs.cancel(current().require_tenant(), request.id))

    async def EndTaskRun(self, request, context):
        task = await self._runs.end_task(current().require_tenant(), request.id, request.status,
                                         struct_in(request, "results"))
        return task_out(task)

    async def WatchExternalTasks(self, request, context):
        """Offers each waiting external task once, oldest first, then new ones as they wait."""
        tenant = current().require_tenant()
        await context.send_initial_metadata(())
        after = ""
        while True:
            tasks = await self._runs.waiting_external(tenant, request.workflow,
                                                      request.task_name, after)
            for task in tasks:
                after = task.id
                yield task_out(task)
            if not tasks:
                await asyncio.sleep(EXTERNAL_POLL_S)
