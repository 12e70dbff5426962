"""The grant domain: commands, events, rules and balances as pure functions over plain values.

Nothing here does I/O; see docs/domain.md for the model and docs/rules.md for the rules.
"""
