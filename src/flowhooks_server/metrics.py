"""Prometheus metrics of SPEC §9, served on FLOWHOOKS_METRICS_PORT."""

from prometheus_client import Counter, Gauge, Histogram, start_http_server

REQUESTS = Counter("flowhooks_requests_total", "RPCs handled", ["method", "code"])
REQUEST_SECONDS = Histogram("flowhooks_request_seconds", "RPC latency", ["method"])
EVENTS_ACCEPTED = Counter("flowhooks_events_accepted_total", "Events stored", ["type"])
DELIVERIES = Counter("flowhooks_deliveries_total", "Delivery attempts by outcome", ["outcome"])
DELIVERY_SECONDS = Histogram(
    "flowhooks_delivery_seconds",
    "Delivery attempt latency",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
QUEUE_DEPTH = Gauge("flowhooks_queue_depth", "Deliveries due or waiting")
OLDEST_PENDING_AGE = Gauge("flowhooks_oldest_pending_age_seconds", "Age of the oldest due delivery")
DATABASE_UP = Gauge("flowhooks_database_up", "1 when the database answers")


def serve(port: int, addr: str = "127.0.0.1") -> None:
    start_http_server(port, addr=addr)
