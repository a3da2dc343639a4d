"""The domain: pydantic models and pure policies. No I/O, no clock, no hidden randomness."""
