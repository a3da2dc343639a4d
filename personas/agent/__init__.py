"""AI personas as agents: typed resources, grants (the scope), tools, the turn, the planner.

Pure domain: no I/O, no clock. The workflow (`workflows/agent_turn.py`) decides with it; the
activities (`activities/agent/`) run what it decides.
"""
