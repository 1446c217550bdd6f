#!/usr/bin/env bash
# Every benchmarks/bench_*.py with the project's Python (`make bench` puts .venv/bin first on
# PATH), after making the peer tools' virtualenvs: each tool we compare against gets a venv
# of its own, so it never shares (or fights over) the project's dependencies.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${PYTHON:-python}"

peer_venv() {  # peer_venv NAME PACKAGE...
  local venv="$HERE/.venv-$1"
  shift
  if [ ! -x "$venv/bin/python" ]; then
    echo "== making $venv ($*)"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet "$@"
  fi
}

peer_venv mlflow mlflow

mkdir -p "$HERE/results"
for bench in "$HERE"/bench_*.py; do
  echo "== $(basename "$bench")"
  "$PYTHON" "$bench"
done
echo "results in $HERE/results/"
