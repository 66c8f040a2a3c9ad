"""Listing at scale (issue 3): a page of a 10,000-webhook tenant through Envoy, against the
same page of a tenant holding only 50 webhooks."""

from __future__ import annotations

import uuid

import aiohttp
from sqlalchemy import insert

from flowhooks_server.ids import new_id
from flowhooks_server.storage.db import Database
from flowhooks_server.storage.models import Tenant, Webhook, WebhookEventType, utcnow
from scripts.bench.common import report, running_stack, timed

WEBHOOKS = 10_000
REPEAT = 200


async def _seed(url: str, tenant: str, count: int) -> None:
    """Rows written straight to the database: the listing is measured, not the creation."""
    db = Database(url)
    now = utcnow()
    hooks, types = [], []
    for i in range(count):
        hook_id = new_id("wh")
        event_types = ["workflow.completed"] if i % 2 else ["workflow.*"]
        hooks.append({"id": hook_id, "tenant_id": tenant, "name": f"hook-{i:05d}",
                      "url": f"https://example.com/h/{i}", "headers": {}, "event_types":
                      event_types, "enabled": i % 10 != 0, "suspended": i % 7 == 0,
                      "timeout_ms": 10_000, "format": "json", "ordered": False,
                      "created_at": now, "updated_at": now})
        types += [{"webhook_id": hook_id, "event_type": t, "tenant_id": tenant}
                  for t in event_types]
    async with db.session() as session, session.begin():
        await session.execute(insert(Tenant).values(id=tenant, created_at=now))
        for start in range(0, count, 1000):
            await session.execute(insert(Webhook), hooks[start:start + 1000])
        for start in range(0, len(types), 1000):
            await session.execute(insert(WebhookEventType), types[start:start + 1000])
    await db.dispose()


async def run(backend: str) -> None:
    with running_stack(backend) as stack:
        big, small = str(uuid.uuid4()), str(uuid.uuid4())
        await _seed(stack.database_url, big, WEBHOOKS)
        await _seed(stack.database_url, small, 50)
        headers = {"Authorization": f"Bearer {stack.bootstrap_token}"}
        async with aiohttp.ClientSession(headers=headers) as http:

            async def get(tenant: str, query: str, expect: int):
                async def call():
                    async with http.get(f"{stack.rest}/event/{tenant}/webhooks/list?{query}") \
                            as resp:
                        body = await resp.json()
                        assert resp.status == 200 and len(body) == expect, (resp.status, body)
                return await timed(call, REPEAT)

            baseline = await get(small, "count=50", 50)
            report("baseline: the page of a 50-webhook tenant", str(baseline),
                   value=baseline.p50, unit="ms p50")
            for title, query, expect in [
                ("first page (count=50) of 10,000", "count=50", 50),
                ("deep page (offset=9950, count=50)", "offset=9950&count=50", 50),
                ("filter active=true, offset=5000", "active=true&offset=5000&count=50", 50),
                ("filter eventTypes=workflow.failed", "eventTypes=workflow.failed&count=50", 50),
            ]:
                figure = await get(big, query, expect)
                report(title, f"{figure}  p50 x{figure.p50 / baseline.p50:.2f} of baseline",
                       value=figure.p50, unit="ms p50", baseline=baseline.p50,
                       p99_ms=figure.p99)
