"""Wiring: build the pools once, start the gRPC server (health, reflection, servicers) and the
background tasks, and shut them down in order."""

from __future__ import annotations

import logging

import grpc
from flowhooks.v1 import (
    delivery_logs_pb2_grpc,
    diverted_events_pb2_grpc,
    events_pb2_grpc,
    inbound_pb2_grpc,
    runs_pb2_grpc,
    subscriptions_pb2_grpc,
    tokens_pb2_grpc,
    webhooks_pb2_grpc,
    workflows_pb2_grpc,
)
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from flowhooks_server.api.delivery_logs import DeliveryLogServicer
from flowhooks_server.api.diverted_events import DivertedEventServicer
from flowhooks_server.api.events import EventServicer
from flowhooks_server.api.inbound import InboundServicer
from flowhooks_server.api.interceptor import ApiInterceptor
from flowhooks_server.api.policies import SERVICE_NAMES
from flowhooks_server.api.runs import WorkflowRunServicer
from flowhooks_server.api.subscriptions import SubscriptionServicer
from flowhooks_server.api.tokens import TokenServicer
from flowhooks_server.api.webhooks import WebhookServicer
from flowhooks_server.api.workflows import WorkflowServicer
from flowhooks_server.config import Settings
from flowhooks_server.delivery.feed import LogFeed
from flowhooks_server.delivery.handoff import Handoff
from flowhooks_server.delivery.sender import Sender
from flowhooks_server.delivery.wakeups import Wakeups
from flowhooks_server.delivery.worker import DeliveryWorker
from flowhooks_server.health import DatabaseHealth
from flowhooks_server.services.auth import Authenticator
from flowhooks_server.services.deliveries import DeliveryLogs, DivertedEvents, WebhookTester
from flowhooks_server.services.events import EventReader
from flowhooks_server.services.inbound import Inbound
from flowhooks_server.services.outbox import Outbox
from flowhooks_server.services.retention import Pruner
from flowhooks_server.services.runs import RunEngine
from flowhooks_server.services.tokens import TokenManager
from flowhooks_server.services.webhooks import WebhookManager
from flowhooks_server.services.workflows import WorkflowManager
from flowhooks_server.sidecar.envoy import MAX_REQUEST_HEADERS_KB
from flowhooks_server.storage.db import Database

log = logging.getLogger("flowhooks.app")

# The raw body is capped at 1 MiB; the message may carry a little more (query fields, framing).
MAX_REQUEST_BYTES = 1024 * 1024 + 4096
# Request metadata (HTTP headers through Envoy): twice what Envoy accepts, which covers the
# headers Envoy adds and HPACK's 32 bytes per entry. The soft and the hard limit are equal, so
# nothing below it is refused at random (gRPC refuses a random share between the two).
MAX_METADATA_BYTES = 2 * MAX_REQUEST_HEADERS_KB * 1024
SHUTDOWN_GRACE_S = 10.0


class App:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.db = Database(settings.database_url)
        self.tokens = TokenManager(self.db)
        self.authenticator = Authenticator(self.db)
        self.wakeups = Wakeups(settings.database_url)
        self.webhooks = WebhookManager(self.db, settings.allow_insecure_targets,
                                       on_released=self.wakeups.outbox_changed)
        self.workflows = WorkflowManager(self.db)
        self.events = EventReader(self.db)
        self.handoff = Handoff()
        self.outbox = Outbox(self.db, self.wakeups, self.handoff)
        self.runs = RunEngine(self.db, self.outbox)
        self.inbound = Inbound(self.db, self.workflows, self.runs)
        self.feed = LogFeed(self.db, self.wakeups)
        self.logs = DeliveryLogs(self.db, self.feed)
        self.tester = WebhookTester(self.db, self.outbox, self.feed)
        self.diverted = DivertedEvents(self.db, self.outbox)
        self.sender = Sender(settings.allow_insecure_targets)
        self.worker = DeliveryWorker(self.db, self.sender, self.wakeups)
        self.pruner = Pruner(self.db, settings.retention_s)
        self.health = DatabaseHealth(self.db.ping, SERVICE_NAMES)
        self.server: grpc.aio.Server | None = None
        self.grpc_address = f"{settings.bind}:{settings.grpc_port}"

    async def start(self) -> None:
        if self.settings.bootstrap_token:
            await self.tokens.ensure_bootstrap(self.settings.bootstrap_token)
        server = grpc.aio.server(
            interceptors=[ApiInterceptor(self.authenticator.authenticate)],
            options=[
                ("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
                ("grpc.max_metadata_size", MAX_METADATA_BYTES),
                ("grpc.absolute_max_metadata_size", MAX_METADATA_BYTES),
                ("grpc.so_reuseport", 0),
            ],
        )
        tokens_pb2_grpc.add_TokenServiceServicer_to_server(
            TokenServicer(self.tokens, self.authenticator), server
        )
        webhooks_pb2_grpc.add_WebhookServiceServicer_to_server(
            WebhookServicer(self.webhooks), server)
        subscriptions_pb2_grpc.add_SubscriptionServiceServicer_to_server(
            SubscriptionServicer(self.webhooks, self.tester), server)
        delivery_logs_pb2_grpc.add_DeliveryLogServiceServicer_to_server(
            DeliveryLogServicer(self.logs), server)
        diverted_events_pb2_grpc.add_DivertedEventServiceServicer_to_server(
            DivertedEventServicer(self.diverted), server)
        events_pb2_grpc.add_EventServiceServicer_to_server(EventServicer(self.events), server)
        workflows_pb2_grpc.add_WorkflowServiceServicer_to_server(
            WorkflowServicer(self.workflows, self.runs), server)
        runs_pb2_grpc.add_WorkflowRunServiceServicer_to_server(
            WorkflowRunServicer(self.runs), server)
        inbound_pb2_grpc.add_InboundServiceServicer_to_server(
            InboundServicer(self.inbound), server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health.servicer, server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
             reflection.SERVICE_NAME),
            server,
        )
        if server.add_insecure_port(self.grpc_address) == 0:
            raise OSError(f"cannot listen on {self.grpc_address}")
        await self.health.check_once()
        await self.wakeups.start()
        await self.sender.start()
        self.db.start_checkpoints()
        # Only a lone process may take every lease at start as its own dead predecessor's.
        await self.worker.start(
            single_process=self.db.is_sqlite and self.settings.processes == 1)
        self.handoff.attach(self.worker)
        await self.feed.start()
        await self.pruner.start()
        await self.runs.start_timers()
        await server.start()
        self.health.start()
        self.server = server
        log.info("grpc serving", extra={"address": self.grpc_address})

    async def stop(self, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        await self.health.stop()
        await self.pruner.stop()
        await self.feed.stop()
        # No new work once SIGTERM arrives: the worker stops claiming before the server
        # drains its calls.
        self.handoff.detach()
        await self.worker.stop(grace_s)
        if self.server is not None:
            await self.server.stop(grace_s)
        # After the drain: a call in flight commits its runs within the grace rather than
        # being answered Unavailable by a group commit already stopped.
        await self.runs.stop_timers()
        await self.sender.close()
        await self.wakeups.stop()
        await self.db.dispose()

    async def wait(self) -> None:
        assert self.server is not None
        await self.server.wait_for_termination()

