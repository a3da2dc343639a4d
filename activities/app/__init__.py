"""App personas' side effects: the broker, resources, images, sandboxes, egress and sessions.

Workers register them through ``workers.registry.app``.
"""
