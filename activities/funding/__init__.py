"""Funding activities: the ledger, metering, rules, keys, audit and ads.

Workers register ``activities.funding.worker.funding_activities(store, client)`` beside the
persona activities and ``workflows.funding_cycle.FUNDING_WORKFLOWS`` beside the persona
workflows. This package's ``__init__`` imports nothing, so the store can import
``activities.funding.tables`` cheaply.
"""
