"""A bare receiver for the delivery benchmarks, run as its own process: answers 200 to every
POST and remembers (webhook-id, arrival time, payload timestamp) for the harness to collect."""

from __future__ import annotations

import json
import sys
import time

from aiohttp import web

arrivals: list[tuple[str, float, str]] = []


async def receive(request: web.Request) -> web.Response:
    body = await request.read()
    # Latency runs (paths under /l/) also keep the event's own timestamp from the payload.
    stamp = json.loads(body).get("timestamp", "") if request.path.startswith("/l") else ""
    arrivals.append((request.headers.get("webhook-id", ""), time.time(), stamp))
    return web.Response(text="ok")


async def stats(request: web.Request) -> web.Response:
    since = int(request.query.get("since", "0"))
    return web.json_response({"count": len(arrivals), "arrivals": arrivals[since:]
                              if request.query.get("full") else []})


async def reset(request: web.Request) -> web.Response:
    arrivals.clear()
    return web.Response(text="ok")


def main() -> None:
    app = web.Application()
    app.router.add_get("/_stats", stats)
    app.router.add_post("/_reset", reset)
    app.router.add_post("/{tail:.*}", receive)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
