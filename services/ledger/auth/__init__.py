"""API tokens: random secrets, stored only as hashes."""
