"""grantledger's ledger: the grant domain, its event store and its projections (no HTTP here)."""
