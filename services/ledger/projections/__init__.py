"""Projections: tables derived from events only (balances, postings, lines, routes)."""
