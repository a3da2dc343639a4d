"""Fleet personas' side effects: drivers (simulated or a real nginx testbed), learning, market.

Workers register them through ``workers.registry.fleet`` (a simulated fleet by default; pass
``driver=TestbedFleet(testbed)`` for the real testbed, or ``driver_from_settings(settings)``
for the one ``PERSONAS_FLEET_DRIVER`` chooses).
"""
