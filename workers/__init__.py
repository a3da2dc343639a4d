"""Entry points that register workflows and activities on task queues."""
