"""App personas: task environments provisioned on demand in a sandbox (pure domain)."""
