"""Instance personas' side effects: the analyzer, the solver and the providers.

Workers register them through ``workers.registry.instance``.
"""
