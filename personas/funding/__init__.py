"""Funding of AI personas: money, rules documents, top-ups, holds, ads and the audit chain.

Pure domain: no I/O, no clock. Money is an integer number of micro-units (1e-6) so the
ledger adds exactly on every backend.
"""
