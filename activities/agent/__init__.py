"""Agent side effects: resources and grants in the store, step records, tool audit, tools."""
