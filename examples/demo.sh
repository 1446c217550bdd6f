#!/usr/bin/env bash
# The whole lifecycle on the embedded default (SQLite + a local folder), in a fresh temp project.
# Each capability adds its step here, in the order of the path: data → job → run → model →
# approval → zone → serving → monitoring → cost.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DEMO="$(mktemp -d "${TMPDIR:-/tmp}/leanops-demo.XXXXXX")"
trap 'rm -rf "$DEMO"' EXIT
step() { printf '\n\033[1;34m== %s\033[0m\n' "$*"; }
export LEANOPS_USER=alice
cd "$DEMO"

step "Initialise a project (alice becomes its first admin)"
leanops init . --project churn --owner alice
leanops status

step "Effective configuration and where each value comes from"
leanops config show | head -n 14

step "Guardrails: users, roles, tokens"
leanops users add bob --role developer
leanops users add carol --role approver
leanops users list
TOKEN="$(leanops tokens create --for bob --expires 1h | tail -n 1)"
LEANOPS_TOKEN="$TOKEN" leanops status --json | python -c 'import json,sys; d=json.load(sys.stdin); print("token acts as", d["actor"], d["roles"]["sandbox"])'

step "Policy as code: decisions and their reasons"
leanops policy check
leanops policy explain --principal bob --action model.promote --resource ModelVersion:churn/1 --owner bob --in-zone production || true
leanops policy explain --principal bob --action dataset.read --resource Dataset:customers --in-zone sandbox -c data_class=sensitive || true
leanops policy doc | head -n 20

step "A denied action is refused, audited and explained"
LEANOPS_USER=bob leanops users add mallory --role admin || echo "(refused as expected, exit $?)"

step "Time-boxed exception"
leanops policy exception grant --principal bob --action dataset.read --resource 'Dataset:*' --in-zone sandbox --expires 1d --reason "one-off PII audit"
leanops policy exception list

step "Tamper-evident audit log"
leanops audit tail -n 8
leanops audit verify
leanops fsck

step "Done: the demo project lived in $DEMO (removed on exit)"
