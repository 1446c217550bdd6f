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

step "Register a validated dataset: content-addressed, profiled, classified"
mkdir -p data/v1 data/v2
cat > data/customers.yaml <<'YAML'
columns:
  customer_id: {dtype: int, nullable: false, unique: true}
  age: {dtype: int, min: 18, max: 110}
  plan: {dtype: str, allowed: [free, pro, team]}
  monthly_spend: {dtype: float, min: 0}
rows: {min: 1}
YAML
cat > data/v1/customers.csv <<'CSV'
customer_id,age,plan,monthly_spend
1,34,free,0
2,41,pro,29.5
3,29,team,99
4,,pro,29.5
5,52,free,0
CSV
cat > data/v2/customers.csv <<'CSV'
customer_id,age,plan,monthly_spend,region
1,34,free,0,eu
2,41,pro,29.5,us
3,29,team,99,eu
4,38,pro,29.5,eu
5,52,free,0,us
6,23,team,99,apac
CSV
cat > data/broken.csv <<'CSV'
customer_id,age,plan,monthly_spend
1,34,free,0
1,7,gold,-5
CSV
leanops data register data/v1/customers.csv --name customers --contract data/customers.yaml
leanops data register data/v1/customers.csv --name customers   # same bytes: the same snapshot, no new version
leanops data register data/v2/customers.csv --name customers --contract data/customers.yaml --class internal
leanops data register data/broken.csv --name customers --contract data/customers.yaml || echo "(refused as expected, exit $?)"
leanops data list
leanops data show customers@v1
leanops data diff customers@v1 customers@v2

step "Done: the demo project lived in $DEMO (removed on exit)"
