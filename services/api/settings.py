"""Configuration: one validated settings class, from ``GRANTLEDGER_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.db import normalize_url
from ledger.errors import BadDatabaseUrl


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRANTLEDGER_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///grantledger.db",
        description="sqlite:///path or postgresql://user@host:port/dbname",
    )
    pool_size: int = Field(default=10, ge=1, le=200)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_page_size: int = Field(default=1000, ge=1, le=100_000)
    cors_origins: list[str] = Field(default_factory=list)
    sie_cost_object_dim: int = Field(default=6, ge=1)
    sie_activity_dim: int | None = Field(default=None, ge=1)
    # Account ranges whose lines are spend (issue 11): BAS and Kommun-Bas keep costs in 4-7.
    sie_spend_accounts: str = Field(
        default="4000-7999", pattern=r"^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$"
    )
    # Transaction rows one SIE import takes: a bigger file holds every other writer too long.
    sie_max_lines: int = Field(default=50_000, ge=1)
    idempotency_retention_days: int = Field(
        default=30,
        ge=1,
        description="Days an Idempotency-Key is kept at least: a retry within them replays the "
        "first answer; older keys are swept and the same key is then a new request.",
    )
    log_level: str = "info"
    log_json: bool = True
    # What `grantledger serve` holds a client to (uvicorn with h11 and the deadlines of
    # api.http_protocol); see docs/operations.md.
    http_max_header_bytes: int = Field(
        default=64 * 1024,
        ge=4096,
        le=1024 * 1024,
        description="Largest request line and headers; a larger one is a 400 and a close.",
    )
    http_header_timeout: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Seconds from a connection's first byte (or first moment) until its "
        "request headers must be complete; else 408 and close.",
    )
    http_read_timeout: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds a request body may stall (no byte arriving) before the "
        "connection is closed.",
    )
    http_keep_alive_timeout: int = Field(
        default=5,
        ge=1,
        le=300,
        description="Seconds an idle kept-alive connection stays open between requests.",
    )
    http_limit_concurrency: int = Field(
        default=256,
        ge=1,
        le=100_000,
        description="Open connections (and requests in progress) per worker process beyond "
        "which a request is answered 503.",
    )
    token_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long a server trusts a token it has looked up: the longest a "
        "revocation takes to reach a running server (0: look up every request). An expiry is "
        "honoured to the instant whatever this is.",
    )
    metrics_access: Literal["reader", "poster", "planner", "auditor", "admin", "open"] = Field(
        default="reader",
        description="Who may scrape GET /metrics: a bearer token whose role may act as this "
        "role (default: any valid token), or `open` for no token (only where the port is "
        "reachable from inside the network alone).",
    )
    public_base_url: str | None = Field(
        default=None,
        description="Where clients reach the API, e.g. https://ledger.region.se (links in "
        "answers start with it; relative links without it, never the request's Host header).",
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        try:
            normalize_url(value)
        except BadDatabaseUrl as e:
            raise ValueError(e.detail) from e
        return value

    @field_validator("public_base_url")
    @classmethod
    def _plain_base_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("an http:// or https:// URL with a host")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("a base URL without query, fragment or credentials")
        return value.rstrip("/")


@lru_cache
def get_settings() -> Settings:
    return Settings()
