#!/usr/bin/env bash
# Lint, type-check, check the layers and run every test (unit, workflow, integration) against the real parts.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports
.venv/bin/pytest -q "$@"
