"""A job acts with its own short-lived, zone-limited token and sees none of its submitter's secrets."""

from __future__ import annotations

import json
import sys

import pytest

from leanops.errors import AuthenticationError
from leanops.workspace import Workspace
from leanops.zones import Zone


def test_a_job_gets_its_own_scoped_token_and_none_of_the_submitters_secrets(
    jws: Workspace,
    spec,
    monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "cloud-key")
    monkeypatch.setenv("SOME_API_TOKEN", "lo_other")
    monkeypatch.setenv("PASS_ME", "yes")
    dump = "import json, os; json.dump(dict(os.environ), open('env.json', 'w'))"
    path = spec("envdump", entrypoint=[sys.executable, "-c", dump], env={"MODE": "fast"}, env_passthrough=["PASS_ME"])
    job = jws.jobs.run(path)
    assert str(job.status) == "succeeded", job.reason
    env = json.loads((jws.settings.root / "env.json").read_text())
    assert "AWS_SECRET_ACCESS_KEY" not in env and "SOME_API_TOKEN" not in env and "LEANOPS_USER" not in env
    assert env["PASS_ME"] == "yes" and env["MODE"] == "fast"
    token = env["LEANOPS_TOKEN"]
    (record,) = [t for t in jws.users.tokens() if t.description.startswith(f"job {job.id}")]
    assert record.zones == [Zone.SANDBOX] and record.revoked_at is not None
    with pytest.raises(AuthenticationError, match="revoked"):
        Workspace(jws.settings, store=jws._store, token=token).audit.tail()
