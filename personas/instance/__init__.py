"""Instance personas: the role an instance will play, and how it is negotiated.

- ``profiles``: the persona (function, performance series, security, lifecycle, cost).
- ``base``: predefined base personas (web server, database, analytics engine, queue).
- ``workload`` / ``analyzer``: structured or free-text workloads and the fitted predictor.
- ``catalog`` / ``requirements`` / ``proposals``: the catalog, named hard constraints
  (compliance compiled to concrete requirements) with an independent checker, and results.
- ``negotiation`` / ``views``: answers, their validation, next-round terms, the automated
  policy, and what a negotiation shows.
- ``evolution`` / ``instances``: observed use against the prediction; provisioned instances.

Pure: no I/O, no clock. The CP-SAT solver, the analyzer's fitting, the store and the
providers are in ``activities/instance``; the negotiation workflow in
``workflows/negotiation.py``.
"""
