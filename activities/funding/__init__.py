"""Funding activities: the ledger, metering, rules, keys, audit and ads.

Workers register them through ``workers.registry.funding(store, client)``. This package's
``__init__`` imports nothing, so the store can import ``activities.funding.tables`` cheaply.
"""
