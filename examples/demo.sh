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
# The store is in local mode: a name is trusted only for alice. Everyone else acts with a token.
BOB="$(leanops tokens create --for bob --expires 8h | tail -n 1)"
CAROL="$(leanops tokens create --for carol --expires 8h | tail -n 1)"
LEANOPS_TOKEN="$BOB" leanops status --json | python -c 'import json,sys; d=json.load(sys.stdin); print("token acts as", d["actor"], d["roles"]["sandbox"])'
env LEANOPS_USER=carol leanops models list || echo "(a name alone is not an identity: refused, exit $?)"
as_bob() { LEANOPS_TOKEN="$BOB" "$@"; }
as_carol() { LEANOPS_TOKEN="$CAROL" "$@"; }

step "Policy as code: decisions and their reasons"
leanops policy check
leanops policy explain --principal bob --action model.promote --resource ModelVersion:churn/1 --owner bob --in-zone production || true
leanops policy explain --principal bob --action dataset.read --resource Dataset:customers --in-zone sandbox -c data_class=sensitive || true
leanops policy doc | head -n 20

step "A denied action is refused, audited and explained"
as_bob leanops users add mallory --role admin || echo "(refused as expected, exit $?)"
printf '@id("open-door")\npermit (principal, action, resource);\n' > policies/open.cedar
leanops policy check
as_bob leanops users grant bob admin || echo "(a dropped-in permit waits for two approvals: refused, exit $?)"
leanops policy status
rm policies/open.cedar

step "Time-boxed exception"
leanops policy exception grant --principal bob --action dataset.read --resource 'Dataset:*' --in-zone staging --expires 1d --reason "one-off PII audit"
leanops policy exception grant --principal alice --action dataset.read --expires 1d --reason "me" || echo "(nobody grants themself an exception: refused, exit $?)"
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

step "Train a model in a tracked run (bob): datasets, features, code commit and tags recorded"
git init -q . && git -c user.email=demo@example.com -c user.name=demo commit -q --allow-empty -m "churn model code"
git remote get-url origin >/dev/null 2>&1 || git remote add origin https://git.example.com/acme/churn.git
mkdir -p data
python - <<'PY'
import numpy as np, pandas as pd
rng = np.random.default_rng(42)
n = 400
frame = pd.DataFrame({"age": rng.integers(18, 80, n), "monthly_spend": rng.gamma(2.0, 20.0, n).round(2)})
score = (frame.age - 45) / 12 - (frame.monthly_spend - 40) / 25 + rng.normal(0, 0.7, n)
frame["churned"] = (score > 0).astype(int)
frame[:300].to_csv("data/churn-train.csv", index=False)
frame[300:].to_csv("data/churn-holdout.csv", index=False)
PY
as_bob leanops data register data/churn-train.csv --name churn-train
as_bob leanops data register data/churn-holdout.csv --name churn-holdout
cat > train.py <<'PY'
import sys
import leanops
from sklearn.linear_model import LogisticRegression

C = float(sys.argv[1])
ws = leanops.Workspace.from_config()
train = ws.datasets.load("churn-train@v1")
X, y = train[["age", "monthly_spend"]], train["churned"]
with ws.runs.start(f"churn logistic regression C={C}", datasets=["churn-train@v1"], features=list(X.columns),
                   params={"C": C}, tags={"owner": "bob", "cost_center": "growth"}) as run:
    model = LogisticRegression(C=C, max_iter=500).fit(X, y)
    run.log_metric("train_accuracy", model.score(X, y))
    run.log_model(model, input_example=X)
print(run.id)
PY
RUN1="$(as_bob python train.py 1.0)"

step "Track training runs: leanops.start_run with scikit-learn autolog; list, show, validate, compare"
cat > sweep.py <<'PY'
import leanops
import leanops.sklearn
from sklearn.linear_model import LogisticRegression

ws = leanops.Workspace.from_config()
train = ws.datasets.load("churn-train@v1")
X, y = train[["age", "monthly_spend"]], train["churned"]
leanops.sklearn.autolog()  # each fit logs its params, training score and a skops model
for C in (0.1, 10.0):
    with leanops.start_run(purpose=f"sweep C={C}", datasets=["churn-train@v1"], features=list(X.columns),
                           tags={"owner": "bob", "cost_center": "growth", "sweep": "C"}) as run:
        for epoch in range(3):
            run.log_metric("loss", 1 / (epoch + 1), step=epoch)
        LogisticRegression(C=C, max_iter=500).fit(X, y)
    print(run.id, run.status)
with leanops.start_run(purpose="a quick look, no data recorded") as run:
    run.log_metric("loss", 0.5)
print(run.id, run.status)
PY
as_bob python sweep.py | tee sweep.out
leanops runs list --tag sweep=C --sort metrics.training_score --desc
leanops runs show "$RUN1"
leanops runs validate "$RUN1"
leanops runs validate "$(tail -n 1 sweep.out | cut -d' ' -f1)" || echo "(incomplete as expected, exit $?)"
leanops runs compare $(head -n 2 sweep.out | cut -d' ' -f1)

step "Run a training job from a spec in git: deadline, retries, owner, teardown, tracked run"
mkdir -p jobs
cat > train_job.py <<'PY'
import time

from leanops.jobs import context


def main(C: float = 1.0) -> dict[str, float]:
    """Fit on the job's dataset snapshot; the returned numbers become the run's metrics."""
    from sklearn.linear_model import LogisticRegression

    train = context().load_dataset()
    X, y = train[["age", "monthly_spend"]], train["churned"]
    model = LogisticRegression(C=C, max_iter=500).fit(X, y)
    print(f"trained with C={C}")
    return {"train_accuracy": model.score(X, y)}


def slow() -> None:
    print("this one will not finish in time", flush=True)
    time.sleep(60)
PY
cat > jobs/train.yaml <<'YAML'
name: train-churn
entrypoint: train_job:main
owner: bob
deadline: 5m
params: {C: 1.0}
datasets: [churn-train@v1]
features: [age, monthly_spend]
resources: {cpu: 1, memory: 1Gi}
retry: {max_attempts: 3}         # transient failures only: connection errors, exit code 75
seed: 42
tags: {project: churn, cost_center: growth, model: churn}   # the ledger attributes its cost to the model
YAML
cat > jobs/slow.yaml <<'YAML'
name: too-slow
entrypoint: train_job:slow
owner: bob
deadline: 2s
YAML
git add jobs train_job.py && git -c user.email=demo@example.com -c user.name=demo commit -q -m "training job spec"
as_bob leanops jobs run jobs/train.yaml -p C=0.5
leanops jobs list
leanops jobs show "$(leanops jobs list --json | python -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"
as_bob leanops jobs run jobs/slow.yaml || echo "(timed out as expected, exit $?)"
echo "alerts to the owner:"; tail -n 2 .leanops/notifications.log
echo "scratch folders left behind: $(find .leanops/scratch -mindepth 1 -maxdepth 1 | wc -l)"
leanops gc

step "Register the run as a model version: a manifest with file hashes, lineage to data, code and features"
as_bob leanops models register "$RUN1" --name churn
leanops models show churn 1
leanops models lineage churn 1

step "Promotion rules, committed to git: thresholds on a holdout snapshot, a test command, monitoring config"
mkdir -p models monitoring
cat > models/churn.yaml <<'YAML'
owner: growth-team
evaluation: {dataset: churn-holdout@v1, target: churned}
thresholds: ["auc >= 0.75", "accuracy >= 0.7", "latency_p95_ms <= 50"]
test_command: python -c "print('model smoke tests ok')"
first_release: true
YAML
cat > monitoring/churn.yaml <<'YAML'
window: 1h
checks:
  - check: drift                       # PSI per feature against the training snapshot's profile
    warning: {threshold: 0.1, for: 15m}
    critical: {threshold: 0.25}
    why: Inputs no longer look like the customers the model learned from; its scores cannot be trusted.
    next_steps: Compare the upstream feed with churn-train@v1; retrain from jobs/train.yaml if the shift is real.
    runbook: runbooks/churn.md
  - check: latency_p95_ms
    warning: {threshold: 50, for: 5m}
  - check: accuracy                    # once enough delayed labels arrive
    min_rows: 20
    warning: {threshold: 0.6}
YAML
leanops runbook churn --contact "#churn-oncall"   # symptoms, causes, the rollback command; alerts link to it
# Release evidence is judged only by committed rules: an edited or weaker copy is refused.
git add models monitoring runbooks && git -c user.email=demo@example.com -c user.name=demo commit -q -m "promotion rules"

step "Evidence for staging, collected automatically; a developer carries their own model to staging"
as_bob leanops models evaluate churn 1 --zone staging
as_bob leanops promote churn 1 --to staging --reason "holdout looks good"

step "Production: evidence, a four-eyes approval, then the promotion"
as_carol leanops models evaluate churn 1 --zone production
as_carol leanops promote churn 1 --to production --reason "ship it" || echo "(refused as expected: no approval yet, exit $?)"
as_bob leanops models approve churn 1 --zone production --reason "my own model" || echo "(refused as expected: self-approval, exit $?)"
as_carol leanops models approve churn 1 --zone production --reason "holdout metrics and tests pass; monitoring configured"
as_carol leanops promote churn 1 --to production --reason "first release"

step "Rollback is a documented action: with no earlier approved version it says so"
as_carol leanops rollback churn --zone production --reason "drill" || echo "(refused as expected, exit $?)"

step "Version 2 ships, misbehaves, and is rolled back in one command"
RUN2="$(as_bob python train.py 0.05)"
as_bob leanops models register "$RUN2" --name churn
as_carol leanops models evaluate churn 2 --zone production
as_carol leanops models approve churn 2 --zone production --reason "retrained with stronger regularisation"
as_carol leanops promote churn 2 --to production --reason "v2 release"
as_carol leanops rollback churn --zone production --reason "p95 latency alert after the v2 release"
leanops models history churn
leanops models lineage churn 2

step "Serving: the approved production version over HTTP, a prediction, delayed feedback, then batch scoring"
PORT="$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
LEANOPS_TOKEN="$CAROL" leanops serve churn --zone production --port "$PORT" &
SERVER=$!
python - "$PORT" <<'PY'
import sys, time
import httpx
import pandas as pd

url = f"http://127.0.0.1:{sys.argv[1]}"
for _ in range(150):
    try:
        if httpx.get(f"{url}/ready").status_code == 200:
            break
    except httpx.TransportError:
        time.sleep(0.1)
rows = pd.read_csv("data/churn-holdout.csv").drop(columns=["churned"])[:2].to_dict("records")
answer = httpx.post(f"{url}/predict", json={"records": rows}).json()
print(f"POST /predict -> v{answer['version']} predictions {answer['predictions']} (request {answer['request_id'][:8]})")
bad = httpx.post(f"{url}/predict", json={"records": [{"age": "old"}]})
print(f"a malformed record -> {bad.status_code}: {bad.json()['detail'][:90]}")
fed = httpx.post(f"{url}/feedback", json={"request_id": answer["request_id"], "label": 1})
print(f"POST /feedback (the label arrives later) -> {fed.status_code}")
PY

step "Monitoring: v2 ships again; normal traffic is quiet, drifted inputs fire a critical alert that rolls back"
as_carol leanops promote churn 2 --to production --reason "v2 again, with the latency fix"
traffic() {  # traffic PORT SHIFT VERSION: once the server serves VERSION, 300 customers, ages shifted by SHIFT
  python - "$1" "$2" "$3" <<'PY'
import sys, time
import httpx
import pandas as pd

url, shift, version = f"http://127.0.0.1:{sys.argv[1]}", int(sys.argv[2]), int(sys.argv[3])
while httpx.get(f"{url}/ready").json()["version"] != version:  # the hot swap after a promotion
    time.sleep(0.1)
rows = pd.read_csv("data/churn-train.csv").drop(columns=["churned"])
rows["age"] = rows["age"] + shift
for start in range(0, len(rows), 30):
    httpx.post(f"{url}/predict", json={"records": rows[start : start + 30].to_dict("records")})
print(f"sent {len(rows)} rows to v{version}, ages shifted by {shift} years")
PY
}
traffic "$PORT" 0 2
sleep 1.5   # the prediction log is written in the background, about once a second
as_carol leanops monitor run churn --zone production
traffic "$PORT" 35 2
sleep 1.5
as_carol leanops monitor run churn --zone production
leanops alerts list churn
CRITICAL="$(leanops alerts list churn --json | python -c 'import json, sys; print(next(a["id"] for a in json.load(sys.stdin) if a["tier"] == "critical"))')"
leanops alerts show "$CRITICAL"
as_carol leanops alerts ack "$CRITICAL"
as_carol leanops monitor report churn --zone production -o monitoring-report.html   # drift, latency, alerts, plotted
python - "$PORT" <<'PY'
import sys, time
import httpx

url = f"http://127.0.0.1:{sys.argv[1]}/ready"
while httpx.get(url).json()["version"] != 1:
    time.sleep(0.1)
print("the server swapped back to v1 by itself: no restart, no failed request")
PY
kill -TERM "$SERVER" && wait "$SERVER" || true   # a graceful stop: the deployment is closed and metered
python -c "import pandas as pd; pd.read_csv('data/churn-holdout.csv').drop(columns=['churned']).to_parquet('to-score.parquet')"
as_carol leanops score churn to-score.parquet scored.parquet --zone production
leanops deployments churn

step "Cost: budgets with owners, a hard sandbox ceiling, an estimate before running, the weekly review"
leanops budget set --zone sandbox --monthly 50 --owner alice
leanops budget set --zone production --monthly 500 --owner carol
if [ -f jobs/train.yaml ]; then
  leanops cost estimate jobs/train.yaml
  leanops budget set --zone sandbox --monthly 0.0001 --owner alice   # nearly spent: the next job cannot fit
  as_bob leanops jobs run jobs/train.yaml || echo "(refused before it started, exit $?)"
  leanops budget set --zone sandbox --monthly 50 --owner alice       # raised by an admin, audited
fi
leanops budget list
leanops cost report --week
leanops cost report --week --by tag:cost_center --format markdown
leanops cost unit churn
leanops audit tail -n 3

step "Done: the demo project lived in $DEMO (removed on exit)"
