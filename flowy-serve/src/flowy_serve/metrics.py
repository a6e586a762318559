"""The server's Prometheus metrics, in a registry of its own (one per app, so tests stay apart)."""

from __future__ import annotations

from typing import Any

#: Latency buckets from 0.5 ms to 10 s: single rows take about a millisecond, batches seconds.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServeMetrics:
    """Request counts, latency, errors, rows predicted and the version being served."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter(
            "flowy_serve_requests", "HTTP requests by route and status code.",
            ["route", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "flowy_serve_request_duration_seconds", "Time to answer a request, by route.",
            ["route"], buckets=BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.errors = Counter(
            "flowy_serve_errors", "Requests that failed, by route and reason "
            "(input, auth, too_large, unsupported, model).",
            ["route", "reason"], registry=self.registry,
        )  # fmt: skip
        self.rows = Counter("flowy_serve_predicted_rows", "Rows predicted.", registry=self.registry)
        self.version = Gauge(
            "flowy_serve_model_version", "The model version being served.", ["model"],
            registry=self.registry,
        )  # fmt: skip
        self.switches = Counter(
            "flowy_serve_model_switches", "Times the served version changed (stage following).",
            registry=self.registry,
        )  # fmt: skip

    def observe(self, route: str, status: int, seconds: float, reason: str | None = None) -> None:
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if reason is not None:
            self.errors.labels(route, reason).inc()

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def served(self, model: str, version: Any) -> None:
        self.version.labels(model).set(float(version))
