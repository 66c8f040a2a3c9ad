"""Workflow use cases: create, read, list, change, delete. Each change is validated as a whole
workflow before anything is written, so a refused request leaves the stored one as it was."""

from __future__ import annotations

from collections.abc import Callable

from flowhooks_server.clock import utcnow
from flowhooks_server.domain.errors import NotFound, found
from flowhooks_server.domain.workflows import Workflow, WorkflowSpec, validate
from flowhooks_server.ids import new_id
from flowhooks_server.services.read_cache import ReadCache
from flowhooks_server.storage import tenants as tenant_store
from flowhooks_server.storage import workflows as workflow_store
from flowhooks_server.storage.db import Database

CACHE_TTL_S = 1.0
CACHE_MAX_ENTRIES = 10_000


class WorkflowManager:
    def __init__(self, db: Database):
        self._db = db
        # Triggering reads a workflow per request; a change made here drops it at once, one
        # made by another process is seen within CACHE_TTL_S.
        self._cache: ReadCache[tuple[str, str], Workflow] = ReadCache(CACHE_TTL_S,
                                                                      CACHE_MAX_ENTRIES)

    async def create(self, tenant: str, spec: WorkflowSpec) -> Workflow:
        validate(spec)
        now = utcnow()
        workflow = Workflow(id=new_id("wf"), tenant_id=tenant, spec=spec, created_at=now,
                            updated_at=now)
        async with self._db.session() as session, session.begin():
            await tenant_store.ensure_tenant(session, tenant)
            return await workflow_store.add(session, workflow)

    async def get(self, tenant: str, workflow_id: str) -> Workflow:
        async with self._db.session(readonly=True) as session:
            return found(await workflow_store.get(session, tenant, workflow_id), "workflow",
                         workflow_id)

    async def get_for_trigger(self, tenant: str, workflow_id: str) -> Workflow:
        """`get`, through a short-lived cache: the hot read of the inbound route."""
        return await self._cache.get((tenant, workflow_id),
                                     lambda: self.get(tenant, workflow_id))

    def _forget(self, workflow_id: str) -> None:
        self._cache.forget(lambda key, _workflow: key[1] == workflow_id)

    async def list(self, tenant: str, limit: int, offset: int,
                   after_id: str | None = None) -> list[Workflow]:
        async with self._db.session(readonly=True) as session:
            return await workflow_store.list_workflows(session, tenant, limit, offset, after_id)

    async def change(self, tenant: str, workflow_id: str,
                     edit: Callable[[WorkflowSpec], WorkflowSpec]) -> Workflow:
        """Apply `edit` to the stored spec, validate the result, and save it."""
        self._forget(workflow_id)
        async with self._db.session() as session, session.begin():
            workflow = found(await workflow_store.get(session, tenant, workflow_id,
                                                      for_update=True), "workflow", workflow_id)
            after = edit(workflow.spec)
            validate(after)
            saved = await workflow_store.save(session, workflow, after)
        self._forget(workflow_id)  # again: a read may have cached the old one
        return saved

    async def delete(self, tenant: str, workflow_id: str) -> None:
        """Its runs stay readable: they keep the workflow's id, not a reference to the row."""
        self._forget(workflow_id)
        async with self._db.session() as session, session.begin():
            if not await workflow_store.remove(session, tenant, workflow_id):
                raise NotFound(f"workflow {workflow_id!r} not found")
        self._forget(workflow_id)
