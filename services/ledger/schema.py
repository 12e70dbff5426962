"""Every table grantledger owns, on one MetaData (what Alembic's migrations were written from)."""

from ledger.store.schema import metadata

__all__ = ["metadata"]
