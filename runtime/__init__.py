"""Process-level plumbing: settings, and how the embedded Temporal servers start."""
