"""What the ledger reads and writes for other tools: files in and out, one package per format."""
