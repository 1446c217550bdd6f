"""The job spec: loading, strict validation with file/line/key, overrides, entrypoint checks;
and the pure rules on retries and sweeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from leanops.errors import ValidationError
from leanops.jobs.models import ExitInfo
from leanops.jobs.retry import Cause, classify, describe
from leanops.jobs.secrets import Redactor, read_secrets_file, resolve_secrets
from leanops.jobs.spec import JobSpec, RetryPolicy, cast_param, load_spec, locate_entrypoint
from leanops.jobs.sweep import grid, random_trials

GOOD = """\
name: train-churn
entrypoint: train:main
owner: alice
deadline: 30m
params:
  lr: 0.1
  depth: 3
  loss: log
  early_stop: true
datasets: [customers@v2]
resources: {cpu: 2, memory: 4Gi, gpu: 1}
retry:
  max_attempts: 4
  transient_exit_codes: [75, 69]
  backoff: {initial: 2s, max: 1m}
scratch_ttl: 6h
tags: {project: churn, cost_center: 42}
secrets: [WANDB_API_KEY]
"""


def write(tmp_path: Path, text: str, name: str = "train.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_good_spec_loads_with_units_and_defaults(tmp_path: Path) -> None:
    loaded = load_spec(write(tmp_path, GOOD))
    spec = loaded.spec
    assert (spec.deadline, spec.scratch_ttl, spec.retry.backoff.initial, spec.retry.backoff.max) == (1800, 21600, 2, 60)
    assert (spec.resources.cpu, spec.resources.memory, spec.resources.gpu) == (2, 4 * 2**30, 1)
    assert spec.retry.transient_exceptions == ["ConnectionError", "TimeoutError"]
    assert spec.tags == {"project": "churn", "cost_center": "42"}
    assert spec.is_callable and str(spec.zone) == "sandbox"
    assert loaded.root == tmp_path.resolve()


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nparams: {lr: 0.1\nowner: alice\n")
    with pytest.raises(ValidationError) as err:
        load_spec(path)
    assert f"{path}:3" in err.value.message and "invalid YAML" in err.value.message


@pytest.mark.parametrize(
    ("change", "line", "key", "reason"),
    [
        (("  max_attempts: 4", "  max_attempts: lots"), 13, "retry.max_attempts", "integer"),
        (("retry:", "retyr:"), 12, "retyr", "unknown key"),
        (("deadline: 30m", "deadline: soon"), 4, "deadline", "not a duration"),
        (
            ("resources: {cpu: 2, memory: 4Gi, gpu: 1}", "resources: {cpu: 2, memory: lots}"),
            11,
            "resources.memory",
            "amount of memory",
        ),
        (("name: train-churn", "name: train churn!"), 1, "name", "letters, digits"),
        (("  lr: 0.1", "  lr: [0.1, 0.2]"), 6, "params.lr", ""),
    ],
)
def test_bad_values_name_file_line_and_key(
    tmp_path: Path, change: tuple[str, str], line: int, key: str, reason: str
) -> None:
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ValidationError) as err:
        load_spec(path)
    assert f"{path}:{line}: key '{key}'" in err.value.message
    assert reason in err.value.message


@pytest.mark.parametrize("key", ["owner", "deadline"])
def test_missing_owner_or_deadline_is_refused(tmp_path: Path, key: str) -> None:
    text = "\n".join(line for line in GOOD.splitlines() if not line.startswith(f"{key}:"))
    path = write(tmp_path, text)
    with pytest.raises(ValidationError) as err:
        load_spec(path)
    assert f"{path}: key '{key}': required" in err.value.message


def test_blank_owner_and_zero_deadline_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("owner: alice", "owner: '  '").replace("deadline: 30m", "deadline: 0"))
    with pytest.raises(ValidationError) as err:
        load_spec(path)
    assert "key 'owner'" in err.value.message and "key 'deadline'" in err.value.message


def test_param_overrides_are_cast_to_their_defaults_type(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, GOOD)).spec
    new = spec.with_params(["lr=0.01", "depth=5", "loss=hinge", "early_stop=false"])
    assert new.params == {"lr": 0.01, "depth": 5, "loss": "hinge", "early_stop": False}
    assert spec.with_params(["lr=1"]).params["lr"] == 1.0 and isinstance(spec.with_params(["lr=1"]).params["lr"], float)
    assert spec.params["lr"] == 0.1  # the loaded spec is untouched
    with pytest.raises(ValidationError, match="no param 'lrr'"):
        spec.with_params(["lrr=0.1"])
    with pytest.raises(ValidationError, match="not a int"):
        spec.with_params(["depth=deep"])
    with pytest.raises(ValidationError, match="not key=value"):
        spec.with_params(["lr"])


def test_cast_param_keeps_text_params_as_text() -> None:
    assert cast_param("name", "007", "x") == "007"
    assert cast_param("flag", "true", False) is True
    with pytest.raises(ValidationError):
        cast_param("flag", "1", False)


def test_unknown_entrypoints_are_refused(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("import os\n\ndef main():\n    pass\n")

    def spec(entry: object) -> JobSpec:
        return JobSpec(name="j", entrypoint=entry, owner="a", deadline=10)

    assert locate_entrypoint(spec("train:main"), tmp_path, {}) == tmp_path / "train.py"
    with pytest.raises(ValidationError, match="no python module 'nope'"):
        locate_entrypoint(spec("nope:main"), tmp_path, {})
    with pytest.raises(ValidationError, match="defines no 'mian'"):
        locate_entrypoint(spec("train:mian"), tmp_path, {})
    with pytest.raises(ValidationError, match="command 'no-such-program-xyz' is not found"):
        locate_entrypoint(spec("no-such-program-xyz --fast"), tmp_path, {})
    assert locate_entrypoint(spec(["python", "train.py", "--lr", "{lr}"]), tmp_path, {"lr": 1}) == tmp_path / "train.py"
    assert locate_entrypoint(spec("json:dumps"), tmp_path, {}) is None  # installed modules are fine


def test_command_placeholders_are_params(tmp_path: Path) -> None:
    spec = JobSpec(name="j", entrypoint="python train.py --lr {lr}", owner="a", deadline=10, params={"lr": 0.1})
    assert spec.command(spec.params) == ["python", "train.py", "--lr", "0.1"]
    with pytest.raises(ValidationError, match="not a param"):
        spec.command({})


def test_backoff_must_fit_under_its_cap() -> None:
    with pytest.raises(Exception, match="initial is longer"):
        JobSpec(name="j", entrypoint="a:b", owner="a", deadline=10, retry={"backoff": {"initial": "2m", "max": "1m"}})


# -- retry classification (pure) ---------------------------------------------------------------

POLICY = RetryPolicy()


@pytest.mark.parametrize(
    ("exit", "cause"),
    [
        (ExitInfo(returncode=0), Cause.SUCCEEDED),
        (ExitInfo(returncode=75), Cause.TRANSIENT),
        (ExitInfo(returncode=1), Cause.FAILED),
        (
            ExitInfo(returncode=1, exception="ConnectionResetError", exception_bases=["ConnectionError", "OSError"]),
            Cause.TRANSIENT,
        ),
        (ExitInfo(returncode=1, exception="TimeoutError"), Cause.TRANSIENT),
        (ExitInfo(returncode=1, exception="ValueError", exception_bases=["Exception"]), Cause.FAILED),
        (ExitInfo(returncode=75, exception="ValueError"), Cause.FAILED),  # the exception decides
        (ExitInfo(signal=9), Cause.FAILED),
        (ExitInfo(error="worker died", lost=True), Cause.TRANSIENT),
        (ExitInfo(returncode=0, stopped_for="deadline"), Cause.TIMED_OUT),
        (ExitInfo(signal=15, stopped_for="cancel"), Cause.CANCELLED),
    ],
)
def test_classify(exit: ExitInfo, cause: Cause) -> None:
    assert classify(exit, POLICY) is cause


def test_retry_on_any_and_never() -> None:
    assert classify(ExitInfo(returncode=1), RetryPolicy(retry_on="any")) is Cause.TRANSIENT
    assert classify(ExitInfo(returncode=75), RetryPolicy(retry_on="never")) is Cause.FAILED
    assert classify(ExitInfo(returncode=3), RetryPolicy(transient_exit_codes=[3])) is Cause.TRANSIENT


def test_describe() -> None:
    assert describe(ExitInfo(returncode=75)) == "exit 75"
    assert describe(ExitInfo(signal=9)) == "killed by SIGKILL"
    assert describe(ExitInfo(exception="KeyError", message="'x'")) == "KeyError: 'x'"
    assert describe(ExitInfo(stopped_for="deadline")) == "stopped at the deadline"


# -- secrets (pure) ----------------------------------------------------------------------------


def test_secrets_come_from_env_then_a_file_outside_the_project(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    outside = tmp_path / "secrets.env"
    outside.write_text("# team secrets\nexport DB_PASSWORD='hunter22'\nOTHER=x\n")
    found = resolve_secrets(["API_KEY", "DB_PASSWORD"], {"API_KEY": "k-123"}, outside, root)
    assert found == {"API_KEY": "k-123", "DB_PASSWORD": "hunter22"}
    with pytest.raises(ValidationError, match="MISSING not found") as err:
        resolve_secrets(["MISSING"], {}, outside, root)
    assert "hunter22" not in str(err.value)
    inside = root / "secrets.env"
    inside.write_text("A=b\n")
    with pytest.raises(ValidationError, match="inside the project"):
        read_secrets_file(inside, root)


def test_redactor_masks_every_value_longest_first() -> None:
    r = Redactor(["abcd1234", "abcd", "xy"])
    assert r.text("key abcd1234 and abcd and xy") == "key *** and *** and xy"
    assert r.data(b"abcd1234") == b"***"


# -- sweeps (pure) -----------------------------------------------------------------------------


def test_grid_is_every_combination() -> None:
    trials = grid(["lr=0.01,0.1", "depth=3,5"])
    assert trials == [
        {"lr": "0.01", "depth": "3"},
        {"lr": "0.01", "depth": "5"},
        {"lr": "0.1", "depth": "3"},
        {"lr": "0.1", "depth": "5"},
    ]
    with pytest.raises(ValidationError):
        grid(["lr"])


def test_random_search_is_seeded_and_in_range() -> None:
    space = ["lr=loguniform:0.001:0.1", "depth=int:2:8", "opt=choice:adam,sgd", "x=uniform:0:1"]
    a, b = random_trials(space, 20, seed=3), random_trials(space, 20, seed=3)
    assert a == b and len(a) == 20
    assert all(0.001 <= float(t["lr"]) <= 0.1 and 2 <= int(t["depth"]) <= 8 and t["opt"] in ("adam", "sgd") for t in a)
    with pytest.raises(ValidationError, match="not understood"):
        random_trials(["lr=normal:0:1"], 2)
