"""MLflow's half of bench_serving.py, run inside benchmarks/.venv-mlflow: save the same
scikit-learn model with mlflow.sklearn and serve it with `mlflow models serve`.

    benchmarks/.venv-mlflow/bin/python benchmarks/peers/mlflow_serving.py --data train.npz --dir /tmp/x --port 5001

Prints one JSON line ({"ready": true, "version": …}) once the server answers, then keeps it
running until stdin closes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from importlib.metadata import version
from pathlib import Path

import mlflow.sklearn
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    data = np.load(args.data, allow_pickle=False)
    x = pd.DataFrame(data["x"], columns=[str(c) for c in data["columns"]])
    model = LogisticRegression(max_iter=1000).fit(x, data["y"])
    path = Path(args.dir) / "mlflow-model"
    mlflow.sklearn.save_model(model, path, input_example=x[:5])
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    server = subprocess.Popen(
        [
            str(bin_dir / "mlflow"),
            "models",
            "serve",
            "-m",
            str(path),
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(args.port),
            "-w",
            "1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{args.port}/ping", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        print(json.dumps({"ready": True, "version": version("mlflow")}), flush=True)
        sys.stdin.read()
    finally:
        server.terminate()
        server.wait(20)


if __name__ == "__main__":
    main()
