"""The Python client API and the command-line interface built on it."""
