"""Access to the REST API: hashed bearer keys and idempotent POST records (their tables)."""
