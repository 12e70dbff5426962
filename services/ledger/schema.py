"""Every table grantledger owns, on one MetaData (what Alembic's migrations were written from)."""

from ledger.auth.tables import tokens
from ledger.projections.tables import LIVE
from ledger.store.schema import events, idempotency_keys, metadata

__all__ = ["LIVE", "events", "idempotency_keys", "metadata", "tokens"]
