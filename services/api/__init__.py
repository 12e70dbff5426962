"""grantledger's HTTP API and command line: parse, call the ledger, render."""
