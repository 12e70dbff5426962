"""The relay's metrics: its own registry, served by the relay process at /metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass
class RelayMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    head_position: int = 0
    published_position: int = 0

    def __post_init__(self) -> None:
        r = self.registry
        self.lag = Gauge(
            "grantledger_relay_lag_events",
            "Committed events not yet acknowledged by JetStream (head - published).",
            registry=r,
        )
        self.head = Gauge(
            "grantledger_relay_head_position", "The ledger's last committed position.", registry=r
        )
        self.published = Gauge(
            "grantledger_relay_published_position",
            "The last position JetStream acknowledged.",
            registry=r,
        )
        self.events = Counter(
            "grantledger_relay_events", "Events published (acknowledged).", registry=r
        )
        self.checkpoints = Counter(
            "grantledger_relay_checkpoints", "Signed checkpoints published.", registry=r
        )
        self.connected = Gauge(
            "grantledger_relay_connected", "1 while connected to NATS.", registry=r
        )
        self.failures = Counter(
            "grantledger_relay_failures",
            "Interruptions (NATS or database unreachable, a rejected publish), by kind.",
            ["kind"],
            registry=r,
        )

    def positions(self, *, head: int | None = None, published: int | None = None) -> None:
        if head is not None:
            self.head_position = head
            self.head.set(head)
        if published is not None:
            self.published_position = published
            self.published.set(published)
        self.lag.set(max(0, self.head_position - self.published_position))
