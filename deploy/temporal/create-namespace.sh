#!/bin/sh
# Creates the default namespace and the project's search attributes (runtime/search_attributes.py)
# once the server answers; run by the temporal-create-namespace service.
set -eu
until temporal operator cluster health; do sleep 2; done
temporal operator namespace describe -n default >/dev/null 2>&1 \
  || temporal operator namespace create -n default --retention 3d
for keyword in PersonaKind EntityId PersonaId PersonaName PersonaMood PersonaStatus; do
  temporal operator search-attribute create -n default --name "$keyword" --type Keyword || true
done
temporal operator search-attribute create -n default --name InboxSize --type Int || true
