"""Admission and the hard sandbox ceiling, with real jobs: refused before they start, stopped
(SIGTERM, grace, SIGKILL) when spend reaches the ceiling, refused until an admin raises it."""

from __future__ import annotations

import sys
import threading
import time
from decimal import Decimal

import pytest

from leanops.errors import BudgetExceeded, ValidationError
from leanops.jobs.models import JobStatus
from leanops.policy import Role
from tests.cost.conftest import write_spec

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]
QUICK = [sys.executable, "-c", "pass"]


def test_a_job_reserving_more_than_is_left_is_refused_before_it_starts(cws, project, tmp_path) -> None:  # noqa: ANN001
    marker = tmp_path / "ran"
    spec = write_spec(
        project,
        "big",
        [sys.executable, "-c", f"open({str(marker)!r}, 'w')"],
        deadline="1h",
        resources={"cpu": 2, "memory": "1Gi"},
    )
    cws.cost.set_budget("sandbox", "0.10", owner="alice")
    estimate = cws.cost.estimate(cws.jobs.load(spec).spec)
    assert (estimate.reserved, estimate.admitted) == (Decimal("0.105000"), False)  # 2 × 0.05 + 1 × 0.005
    with pytest.raises(BudgetExceeded, match=r"reserves 0\.105 USD but only 0\.10 of the sandbox/\* budget"):
        cws.jobs.run(spec)
    assert cws.jobs.list() == [] and not marker.exists()
    assert cws.cost.ledger() == []


def test_quotas_and_naming_are_checked_before_a_job_is_recorded(cws, project) -> None:  # noqa: ANN001
    gpus = write_spec(project, "gpus", QUICK, resources={"gpu": 2})
    with pytest.raises(BudgetExceeded, match=r"gpu 2 > 1(.|\n)*jobs.quotas.sandbox.max_gpu"):
        cws.jobs.run(gpus)
    cws.settings.naming.job = r"^train-[a-z0-9-]+$"
    with pytest.raises(ValidationError, match="naming convention"):
        cws.jobs.run(write_spec(project, "quick", QUICK))
    assert cws.jobs.list() == []


def test_spend_reaching_the_ceiling_stops_running_jobs_until_an_admin_raises_it(cws, project, spend, as_user) -> None:  # noqa: ANN001
    cws.cost.set_budget("sandbox", 1, owner="alice")
    sleeper = write_spec(project, "sleeper", SLEEP)
    done: dict[str, object] = {}
    runner = threading.Thread(target=lambda: done.setdefault("job", cws.jobs.run(sleeper)))
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while not [
            j
            for j in cws.jobs.list()
            if j.status is JobStatus.RUNNING and j.attempts == 0 and cws.jobs.get(j.id).attempt_records
        ]:
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.05)
        spend(1)  # e.g. a sandbox endpoint's uptime: the budget is now spent
        runner.join(20)
        assert not runner.is_alive()
    finally:
        for job in cws.jobs.list(status="running"):
            cws.jobs.cancel(job.id)
        runner.join(20)
    job = done["job"]
    assert job.status is JobStatus.CANCELLED  # type: ignore[attr-defined]
    assert job.attempt_records[-1].metering.wall_seconds < 30  # type: ignore[attr-defined]
    ceiling = [n for n in cws.notifier.sent if "ceiling" in n["subject"]]
    assert len(ceiling) == 1 and "sleeper" in ceiling[0]["body"] and ceiling[0]["owner"] == "alice"
    # Its attempt was charged too.
    assert [e.kind for e in cws.cost.ledger()] == ["serving", "job_attempt"]

    quick = write_spec(project, "quick", QUICK)
    with pytest.raises(BudgetExceeded, match="sandbox/"):
        cws.jobs.run(quick)
    cws.users.add("bob", roles=[Role.DEVELOPER])
    with pytest.raises(Exception, match="may not budget.set"):
        as_user("bob").cost.set_budget("sandbox", 100, owner="bob")
    cws.cost.set_budget("sandbox", 2, owner="alice")
    assert cws.jobs.run(quick).status is JobStatus.SUCCEEDED
    raised = [r for r in cws.audit.tail(100) if r.action == "budget.set" and r.decision == "allow"]
    assert [r.details["monthly"] for r in raised] == ["1.000000", "2.000000"]


def test_running_jobs_reservations_count_against_what_is_left(cws, project) -> None:  # noqa: ANN001
    cws.cost.set_budget("sandbox", "0.001", owner="alice")
    spec = cws.jobs.load(write_spec(project, "half", QUICK, deadline="40s"))  # reserves 0.000611
    planned = cws.jobs.plan(spec)  # recorded, queued: its reservation is held
    with pytest.raises(BudgetExceeded, match="reserved by jobs still running"):
        cws.jobs.plan(spec)
    assert cws.jobs.execute(planned).status is JobStatus.SUCCEEDED
    # Once it has run, only what it actually cost is spent, and the room returns.
    assert cws.cost.estimate(spec.spec).admitted
