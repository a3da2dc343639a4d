#!/usr/bin/env bash
# Sets up a fresh Debian machine for this project: system packages (PostgreSQL, Docker engine,
# nginx for the fleet testbed, Chromium for the console's browser tests), a virtual
# environment with the project and its dev tools, and running PostgreSQL and dockerd.
# Idempotent: safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_apt=()
command -v pg_ctlcluster >/dev/null 2>&1 || need_apt+=(postgresql)
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)  # validates docker-compose.yml
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)  # the console's browser tests (Playwright)
# Package lists are needed anyway: app persona images are built from Debian's packages.
as_root apt-get update -qq
if [ ${#need_apt[@]} -gt 0 ]; then
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# PostgreSQL: the Debian cluster, with a role and a test database for the store tests.
pg_version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
if ! as_root pg_lsclusters -h | grep -q online; then
  as_root pg_ctlcluster "$pg_version" main start
fi
for _ in $(seq 1 30); do
  as_root runuser -u postgres -- pg_isready -q -h 127.0.0.1 && break
  sleep 1
done
as_root runuser -u postgres -- psql -q -tc "SELECT 1 FROM pg_roles WHERE rolname='personas'" | grep -q 1 \
  || as_root runuser -u postgres -- psql -q -c "CREATE ROLE personas LOGIN PASSWORD 'personas' CREATEDB"
as_root runuser -u postgres -- psql -q -tc "SELECT 1 FROM pg_database WHERE datname='personas_test'" | grep -q 1 \
  || as_root runuser -u postgres -- createdb -O personas personas_test

# Docker engine: Debian's dockerd, started in the background when no engine answers.
if ! docker info >/dev/null 2>&1; then
  as_root sh -c 'nohup dockerd >/var/log/dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/dockerd.log" >&2; exit 1; }
fi

# Python: a virtual environment with the project (editable) and its dev tools.
[ -x .venv/bin/python ] || python3 -m venv .venv
pip_log=$(mktemp)
if ! { .venv/bin/pip install -q --upgrade pip && .venv/bin/pip install -q -e '.[dev]'; } >"$pip_log" 2>&1; then
  cat "$pip_log" >&2
  exit 1
fi
rm -f "$pip_log"
echo "setup done: .venv ready, PostgreSQL and Docker running"
