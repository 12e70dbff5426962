"""Configuration: one validated settings class, from ``GRANTLEDGER_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

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
    idempotency_retention_days: int = Field(
        default=30,
        ge=1,
        description="Days an Idempotency-Key is kept at least: a retry within them replays the "
        "first answer; older keys are swept and the same key is then a new request.",
    )
    log_level: str = "info"
    log_json: bool = True

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        try:
            normalize_url(value)
        except BadDatabaseUrl as e:
            raise ValueError(e.detail) from e
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
