"""The service-principal path end to end without Azure: real azure-identity against the emulator's Entra ID.

The plugin gets a planted client secret and no static token; azure-identity's ``ClientSecretCredential`` asks
the emulated token endpoint (over TLS) for short-lived tokens, the ARM routes accept only those, and afterwards
neither the secret nor any issued token may appear in state, the serialized provider, DEBUG logs, error text or
reprs.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import grpc
import pytest

from elastic_jobs_emulator import DEFAULT_SUBSCRIPTION, Emulator
from pulumi_azure_elastic_jobs.auth import StaticToken
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.config import Settings
from pulumi_azure_elastic_jobs.provider import JobExecutionProvider
from tests.conftest import SEED, TIME_SCALE, new_job
from tests.engine.conftest import Declare
from tests.engine.harness import Engine, Plugin, from_struct

TENANT, CLIENT, SECRET = "7d3c1a52-0000-4000-8000-00000000a11d", "pulumi-deployer", "planted-sp-secret-5b0e77"
ARM_ONLY_TOKEN = "a-static-token-the-provider-never-has"
LIFETIME = 301.0  # one second past the 5-minute refresh margin: every token is refreshed about a second later


@pytest.fixture
def entra_emulator() -> Iterator[Emulator]:
    """TLS, and ARM accepts only the tokens its Entra ID issued (its static token is one nobody is given)."""
    with Emulator(time_scale=TIME_SCALE, seed=SEED, tls=True, token=ARM_ONLY_TOKEN, poll_hints=True) as running:
        running.add_service_principal(TENANT, CLIENT, SECRET)
        running.settings(token_lifetime_seconds=LIFETIME)
        yield running


def service_principal_config(emulator: Emulator) -> dict[str, str]:
    return {
        "azure-elastic-jobs:endpoint": emulator.url,
        "azure-elastic-jobs:caBundle": emulator.ca_bundle or "",
        "azure-elastic-jobs:subscriptionId": DEFAULT_SUBSCRIPTION,
        "azure-elastic-jobs:tenantId": TENANT,
        "azure-elastic-jobs:clientId": CLIENT,
        "azure-elastic-jobs:clientSecret": SECRET,
        "azure-elastic-jobs:authorityHost": emulator.url,
        "azure-elastic-jobs:allowCustomEndpoint": "true",
    }


def test_a_service_principal_deploys_and_its_secret_and_tokens_land_nowhere(
    entra_emulator: Emulator, declare: Declare
) -> None:
    with ElasticJobsClient(
        entra_emulator.url, StaticToken(ARM_ONLY_TOKEN), verify=entra_emulator.ca_bundle or True
    ) as admin:
        job = new_job(admin, script="SELECT 1; -- emulator:duration=300")  # 3 s of polls: tokens lapse meanwhile
    plugin = Plugin(env={"AZURE_ELASTIC_JOBS_LOG_LEVEL": "DEBUG"})
    plugin.configure(service_principal_config(entra_emulator))
    engine = Engine(plugin)
    texts: list[str] = []
    try:
        registrations = declare(job_name=job.job_name, wait_for_completion=True, poll_interval=0.2)
        engine.up(registrations)
        assert from_struct(next(iter(engine.state.values())).outputs)["lifecycle"] == "Succeeded"
        engine.refresh()
        with pytest.raises(grpc.RpcError) as raised:
            engine.up(declare(name="broken", job_name="no-such-job", wait_for_completion=True))
        texts.append(raised.value.details())
        for state in engine.state.values():
            outputs = from_struct(state.outputs)
            texts += [
                str(from_struct(state.inputs)),
                str(outputs),
                base64.b64decode(outputs["__provider"]).decode("latin-1"),
            ]
        texts.append(str(registrations[0].props))
        engine.destroy()
    finally:
        texts.append(plugin.stderr())
    assert "DEBUG GET https" in texts[-1]  # the debug log really ran
    settings = Settings.resolve(service_principal_config(entra_emulator), env={})
    texts += [repr(settings), repr(settings.token_source()), repr(JobExecutionProvider())]
    issued = entra_emulator.issued_tokens()
    assert len(issued) >= 2, "a short-lived token is refreshed before it lapses"
    arm_answers = [entry["status"] for entry in entra_emulator.requests_log()]
    assert 401 not in arm_answers, "every request carried a token that had not lapsed"
    for secret in [SECRET, *issued]:
        assert [text[:120] for text in texts if secret in text] == [], f"{secret[:24]}… leaked"
