"""What a person watching `pulumi up` sees: live status on the resource's row, one summary, one-line errors.

Runs through the real CLI with the official launchers; a waited run is held by the emulator's service clock
and released once its status is on the screen, so nothing here races a timer.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from tests.cli.conftest import kill_everything_of
from tests.conftest import HELD, HOUR_AHEAD, SEED, TIME_SCALE, new_job

FRAMES = ("Traceback", 'File "', "Task was destroyed", "Exception calling application")
ROW = "pulumi-python:dynamic/azure-elastic-jobs:JobExecution nightly-migration"


def assert_no_frames(output: str) -> None:
    for noise in FRAMES:
        assert noise not in output, output


def test_a_waited_run_shows_its_status_on_its_row_then_a_summary_and_previews_stay_clean(
    stack_for, own_emulator: Emulator, own_client: ElasticJobsClient
) -> None:
    job = new_job(own_client, script=HELD)
    stack = stack_for("examples/quickstart")
    stack.config("azure-elastic-jobs:endpoint", own_emulator.url)
    stack.config("job", job.job_name)
    running = stack.popen("up", "--yes", "--skip-preview")
    assert running.stdout is not None
    lines = []
    try:
        for line in running.stdout:
            lines.append(line)
            if "WaitingForChildJobExecutions · waited" in line and not own_emulator.settings()["clock_offset_seconds"]:
                own_emulator.settings(clock_offset_seconds=HOUR_AHEAD)  # the status was on screen: let it end
        assert running.wait(timeout=300) == 0, "".join(lines)
    finally:
        kill_everything_of(stack)
    output = "".join(lines)
    assert re.search(rf"{re.escape(ROW)} creating \(\d+s\) WaitingForChildJobExecutions · waited \d+s", output), output
    # the plan Check showed before the create (the dynamic face's), then the run's one summary line
    plan_then_summary = r"Diagnostics:\n.*\n    will run \S+ v1: 1 step on 2 databases in 1 server\n(?:    .*\n)*?"
    assert re.search(plan_then_summary + r"    Succeeded in \S+: 1 step on 2 databases\n", output), output
    assert_no_frames(output)
    preview = stack.run("preview", "--expect-no-changes", "--diff")
    assert "[unknown]" not in preview.stdout and "2 unchanged" in preview.stdout, preview.stdout


def test_a_failed_run_fails_the_up_with_one_line_naming_the_step_the_databases_and_the_fix(
    stack_for, client: ElasticJobsClient
) -> None:
    job = new_job(client, "SELECT 1; -- emulator:fail emulator:duration=0", {"retryAttempts": 1})
    stack = stack_for("examples/quickstart")
    stack.config("job", job.job_name)
    failed = stack.run("up", "--yes", "--skip-preview", check=False)
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    line = next(text for text in output.splitlines() if "error: the job execution ended Failed" in text)
    assert "step 'step1' failed on server1/app-db-1 after 2 attempts" in line
    assert "run `pulumi up` again" in line and ".." not in line
    assert_no_frames(output)


@pytest.fixture
def tls_emulator() -> Iterator[Emulator]:
    with Emulator(time_scale=TIME_SCALE, seed=SEED, tls=True, poll_hints=True) as running:
        yield running


def without_azure_environment(stack) -> None:
    for key in [key for key in stack.env if key.startswith(("AZURE_", "ARM_"))]:
        del stack.env[key]


@pytest.mark.parametrize(
    "case",
    ["no credentials", "untrusted TLS", "refused", "unknown subscription", "bad subscription", "bad retry budget"],
)
def test_each_understood_failure_is_one_line_with_its_fix(
    stack_for, tls_emulator: Emulator, strict_emulator: Emulator, case: str
) -> None:
    stack = stack_for("examples/quickstart")
    without_azure_environment(stack)
    unknown = str(uuid.uuid4())
    expected = {
        "no credentials": "no Azure credential gave a token for https://management.azure.com",
        "untrusted TLS": "set config azure-elastic-jobs:caBundle",
        "refused": "nothing is listening at http://127.0.0.1:9",
        "unknown subscription": f"The subscription '{unknown}' could not be found",
        "bad subscription": "config azure-elastic-jobs:subscriptionId must be a UUID",
        "bad retry budget": "config azure-elastic-jobs:retryBudget must be a positive number of seconds",
    }[case]
    if case == "no credentials":
        stack.run("config", "rm", "azure-elastic-jobs:endpoint")
        stack.run("config", "rm", "azure-elastic-jobs:token")
    elif case == "untrusted TLS":
        stack.config("azure-elastic-jobs:endpoint", tls_emulator.url)
    elif case == "refused":
        stack.config("azure-elastic-jobs:endpoint", "http://127.0.0.1:9")  # the discard port: nothing listens
    elif case == "unknown subscription":  # strict mode: only the default subscription exists there
        stack.config("azure-elastic-jobs:endpoint", strict_emulator.url)
        stack.config("azure-elastic-jobs:subscriptionId", unknown)
    elif case == "bad subscription":
        stack.config("azure-elastic-jobs:subscriptionId", "prod-subscription")
    else:
        stack.config("azure-elastic-jobs:retryBudget", "2m")
    failed = stack.run("up", "--yes", "--skip-preview", check=False)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert any(expected in line and line.strip().startswith("error:") for line in output.splitlines()), output
    assert_no_frames(output)
    if case == "unknown subscription":
        assert "came from config azure-elastic-jobs:subscriptionId" in output
