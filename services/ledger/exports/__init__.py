"""Exports auditors check with tools that are not ours (Beancount)."""

from ledger.exports.beancount import account_name, component, export_beancount

__all__ = ["account_name", "component", "export_beancount"]
