#!/bin/sh
# Creates the Temporal server's databases and schemas on PostgreSQL (run once by the
# temporal-admin-tools service, before the server starts), as Temporal's self-hosting
# compose files do with temporal-sql-tool.
set -eu
until nc -z -w 10 postgresql 5432; do sleep 1; done
tool() { temporal-sql-tool --plugin postgres12 --ep postgresql -u temporal -p 5432 "$@"; }
schema=/etc/temporal/schema/postgresql/v12
for db in temporal temporal_visibility; do
  dir=temporal
  [ "$db" = temporal_visibility ] && dir=visibility
  tool --db "$db" create || true  # already there on a restart
  tool --db "$db" setup-schema -v 0.0
  tool --db "$db" update-schema -d "$schema/$dir/versioned"
done
