"""The relay's settings, from ``GRANTLEDGER_*`` environment variables like the API's."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_NAME = r"^[A-Za-z0-9_-]+$"  # a stream name: no dots, no wildcards


class RelaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRANTLEDGER_", extra="ignore")

    database_url: str = "sqlite:///grantledger.db"
    nats_url: str = Field(
        default="nats://127.0.0.1:4222", description="One or more, comma-separated."
    )
    # One stream per ledger: the relay is its only publisher (its order guard relies on that).
    nats_stream: str = Field(default="GRANTLEDGER", pattern=_NAME)
    # Subjects <subject>.events.<stream_id> and <subject>.checkpoints.
    nats_subject: str = Field(default="grantledger", pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
    # JetStream drops a repeated Nats-Msg-Id seen within this window (seconds).
    nats_duplicate_window: float = Field(default=120.0, gt=0, le=7 * 24 * 3600)
    relay_batch: int = Field(default=500, ge=1, le=10_000, description="Events per round trip.")
    relay_poll_seconds: float = Field(default=0.2, gt=0, le=60)
    relay_ack_timeout: float = Field(default=10.0, gt=0, le=300)
    relay_max_backoff: float = Field(default=10.0, gt=0, le=600)
    relay_metrics_host: str = "127.0.0.1"
    relay_metrics_port: int = Field(default=9465, ge=0, le=65535, description="0: no endpoint.")
    relay_private_key: Path | None = Field(default=None, description="Sign checkpoints with it.")
    checkpoint_every_events: int = Field(default=10_000, ge=1)
    checkpoint_every_minutes: float = Field(default=5.0, gt=0)

    @field_validator("nats_url")
    @classmethod
    def _nats_scheme(cls, value: str) -> str:
        for url in value.split(","):
            if not url.strip().startswith(("nats://", "tls://", "ws://", "wss://")):
                raise ValueError(f"{url.strip()!r} is not a nats:// URL")
        return value

    @property
    def servers(self) -> list[str]:
        return [u.strip() for u in self.nats_url.split(",")]

    @property
    def events_subject(self) -> str:
        return f"{self.nats_subject}.events"

    @property
    def checkpoints_subject(self) -> str:
        return f"{self.nats_subject}.checkpoints"
