"""Fleet personas: a learned, probabilistic description of a fleet's desired configuration.

- ``config``: the attributes (CPU share, cache, balancer, replicas), their domains, validation.
- ``objective``: metrics, the documented traffic model (conversion, revenue), intents -> weights.
- ``patterns`` / ``context`` / ``simulator`` / ``calibration``: traffic patterns, the context
  (time of day, region, campaign) and its documented effect, the analytic fleet model and its
  fit to testbed measurements.
- ``learner`` / ``environment`` / ``evaluation``: Thompson sampling over configurations crossed
  with contexts, the simulated bandit environment, regret against the oracle and the default,
  transfer between contexts.
- ``persona`` / ``risk``: the persona (weights per attribute, optimum, confidence, triggers,
  provenance), the deviation score, risk-bounded steps and guards.
- ``genetic`` / ``abtest`` / ``marketplace``: candidates, Bayesian A/B decisions, signed listings.
"""
