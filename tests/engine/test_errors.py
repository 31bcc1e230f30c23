"""Every failure the provider understands reaches the engine as one line with its cause and fix, no frames.

Through the SDK's real plugin: its ``Check``/``Create`` report errors as ``traceback.format_exc()``, which this
package renders as the message alone for its own errors only (``plugin_errors``); if the SDK changed how it
reports them, these tests would see frames again.
"""

from __future__ import annotations

import os
import socket
import sys
import traceback
import uuid
from collections.abc import Iterator

import grpc
import pytest
from pulumi.runtime.proto import provider_pb2

from elastic_jobs_emulator import DEFAULT_SUBSCRIPTION, Emulator
from pulumi_azure_elastic_jobs import plugin_errors
from pulumi_azure_elastic_jobs.errors import ConfigError
from tests.conftest import SEED, TIME_SCALE
from tests.engine.conftest import Declare
from tests.engine.harness import Plugin, to_struct

AZURE_FREE_ENV = {key: "" for key in os.environ if key.startswith(("AZURE_", "ARM_"))}


def failure(config: dict[str, str], declare: Declare, env: dict[str, str] | None = None) -> str:
    """The error text the engine gets for a first `up` of one resource under this plugin configuration."""
    plugin = Plugin(env={**AZURE_FREE_ENV, **(env or {})})
    try:
        plugin.configure(config)
        (registration,) = declare(job_name="nightly-migration", subscription_id=None)
        try:
            checked = plugin.Check(
                provider_pb2.CheckRequest(urn=registration.urn, olds=to_struct({}), news=registration.inputs)
            )
            assert not checked.failures, checked.failures
            plugin.Create(provider_pb2.CreateRequest(urn=registration.urn, properties=checked.inputs), timeout=120)
        except grpc.RpcError as error:
            return str(error.details())
        raise AssertionError("the deployment did not fail")
    finally:
        plugin.kill()


def assert_one_line(text: str, *expected: str) -> None:
    assert "Traceback" not in text and 'File "' not in text and "\n" not in text.strip(), text
    for part in expected:
        assert part in text, text


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def tls_emulator() -> Iterator[Emulator]:
    with Emulator(time_scale=TIME_SCALE, seed=SEED, tls=True, poll_hints=True) as running:
        yield running


def test_no_endpoint_and_no_credentials_names_the_sources_tried_and_the_emulator(declare: Declare) -> None:
    text = failure({"azure-elastic-jobs:subscriptionId": DEFAULT_SUBSCRIPTION}, declare)
    assert_one_line(text, "https://management.azure.com", "DefaultAzureCredential tried Environment", "az login")
    assert "azure-elastic-jobs:endpoint" in text and "azure-elastic-jobs:token" in text
    assert text.count("ManagedIdentity") == 1  # azure-identity's own list is not repeated


def test_an_untrusted_emulator_certificate_names_ca_bundle(tls_emulator: Emulator, declare: Declare) -> None:
    config = {
        "azure-elastic-jobs:endpoint": tls_emulator.url,
        "azure-elastic-jobs:token": tls_emulator.token,
        "azure-elastic-jobs:subscriptionId": DEFAULT_SUBSCRIPTION,
    }
    assert_one_line(failure(config, declare), "not trusted", "azure-elastic-jobs:caBundle", "emulator-cert.pem")


def test_a_refused_connection_fails_after_three_tries_and_says_how_to_start_the_emulator(declare: Declare) -> None:
    port = closed_port()
    config = {
        "azure-elastic-jobs:endpoint": f"http://127.0.0.1:{port}",
        "azure-elastic-jobs:token": "emulator-dev-token",
        "azure-elastic-jobs:subscriptionId": DEFAULT_SUBSCRIPTION,
    }
    text = failure(config, declare)
    assert_one_line(text, f"nothing is listening at http://127.0.0.1:{port}", "3 tries", f"--port {port}")


@pytest.mark.parametrize(
    ("where", "env"),
    [("config azure-elastic-jobs:subscriptionId", {}), ("environment variable AZURE_SUBSCRIPTION_ID", None)],
)
def test_an_unknown_subscription_is_named_with_where_it_came_from(
    strict_emulator: Emulator, declare: Declare, where: str, env: dict[str, str] | None
) -> None:
    unknown = str(uuid.uuid4())
    config = {"azure-elastic-jobs:endpoint": strict_emulator.url, "azure-elastic-jobs:token": strict_emulator.token}
    if env is None:
        env = {"AZURE_SUBSCRIPTION_ID": unknown}
    else:
        config["azure-elastic-jobs:subscriptionId"] = unknown
    text = failure(config, declare, env)
    assert_one_line(text, "SubscriptionNotFound", f"The subscription '{unknown}' could not be found", where)


@pytest.mark.parametrize(
    ("config", "env", "expected"),
    [
        (
            {"azure-elastic-jobs:subscriptionId": "not-a-uuid"},
            {},
            "config azure-elastic-jobs:subscriptionId must be a UUID",
        ),
        (
            {"azure-elastic-jobs:retryBudget": "2m"},
            {},
            "config azure-elastic-jobs:retryBudget must be a positive number",
        ),
        ({}, {"AZURE_ELASTIC_JOBS_LOG_LEVEL": "VERBOSE"}, "AZURE_ELASTIC_JOBS_LOG_LEVEL must be one of DEBUG"),
    ],
)
def test_a_bad_config_value_names_its_key_and_what_it_takes(
    emulator: Emulator, declare: Declare, config: dict[str, str], env: dict[str, str], expected: str
) -> None:
    base = {
        "azure-elastic-jobs:endpoint": emulator.url,
        "azure-elastic-jobs:token": emulator.token,
        "azure-elastic-jobs:subscriptionId": DEFAULT_SUBSCRIPTION,
    }
    assert_one_line(failure({**base, **config}, declare, env), expected)


def test_a_genuine_bug_keeps_its_traceback_and_understood_errors_lose_theirs() -> None:
    formatter = plugin_errors.OneLineTracebacks(traceback)
    try:
        raise ConfigError("config azure-elastic-jobs:retryBudget must be a positive number of seconds")
    except ConfigError:
        assert formatter.format_exc() == "config azure-elastic-jobs:retryBudget must be a positive number of seconds"
    try:
        {}["missing"]
    except KeyError:
        text = formatter.format_exc()
    assert text.startswith("Traceback (most recent call last):") and "KeyError: 'missing'" in text
    assert plugin_errors.install(sys.modules[__name__]) is False  # not the plugin: nothing is touched
