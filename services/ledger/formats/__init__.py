"""The file formats the ledger reads and writes: SIE from the ERP, plan files, event backups,
Beancount for auditors, the återrapportering reports.

This package sits on top of the ledger: it may import the service and the queries, and nothing
in the ledger's core imports it.
"""
