"""The emulator's pure logic: its command line, its bounded bookkeeping, its Entra ID's tokens, its host guard.
No sockets."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

SUB = "00000000-0000-0000-0000-000000000000"


def test_emulator_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    from elastic_jobs_emulator.cli import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--help"])
    shown = capsys.readouterr().out
    assert "elastic-jobs-emulator: run the local Elastic Jobs ARM emulator" in shown
    assert "``" not in shown and "listening on <URL>" in shown


def test_allow_subscription_is_a_deprecated_alias_of_strict_mode(capsys: pytest.CaptureFixture[str]) -> None:
    from elastic_jobs_emulator.cli import parse_args

    assert parse_args([]).subscriptions is None  # default: every well-formed subscription exists
    both = parse_args(["--subscription", SUB, "--allow-subscription", "11111111-1111-1111-1111-111111111111"])
    assert both.subscriptions == [SUB, "11111111-1111-1111-1111-111111111111"]
    assert "--allow-subscription is deprecated, use --subscription" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--subscription", "prod"])
    assert "--subscription must be a UUID" in capsys.readouterr().err


def test_bookkeeping_keeps_the_newest_records_and_forgets_lapsed_ones() -> None:
    from elastic_jobs_emulator.backend import Bounded, History

    now = [0.0]
    records = Bounded(History(size=3, seconds=60), now=lambda: now[0])
    for number in range(5):
        records.add(f"op-{number}", number)
    assert list(records) == ["op-2", "op-3", "op-4"]  # bounded in count: the oldest went first
    now[0] = 61.0
    records.add("op-5", 5, lapses=lambda value: value != 3)  # op-3 may not lapse yet (a token still valid)
    assert list(records) == ["op-3", "op-4", "op-5"]  # op-2 lapsed; op-3 holds the line
    now[0] = 200.0
    records.add("op-6", 6)
    assert list(records) == ["op-6"]  # bounded in age


def test_a_forgotten_token_of_the_emulated_entra_id_is_expired_never_unknown() -> None:
    from elastic_jobs_emulator.backend import Clock, History
    from elastic_jobs_emulator.identity import Directory

    directory = Directory(Clock(), History(size=2))
    directory.register("tenant", "client", "secret")
    issued = [directory.issue("tenant", "client", "secret") for _ in range(3)]
    tokens = [token for token, _ in filter(None, issued)]
    assert directory.issued_tokens() == tokens[1:]
    assert directory.state_of(tokens[0]) == "expired"  # an emulator without --token must not let it in
    assert directory.state_of(tokens[2]) == "valid"
    assert directory.state_of("any-bearer-token") == "unknown"


def test_every_emulator_flag_is_explained_in_the_emulator_pages_option_table() -> None:
    from elastic_jobs_emulator.cli import parse_args

    page = (Path(__file__).resolve().parents[2] / "docs" / "emulator.md").read_text()
    section = page.split("\n## Options\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `--")]
    with pytest.raises(SystemExit), contextlib.redirect_stdout(io.StringIO()) as shown:
        parse_args(["--help"])
    flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", shown.getvalue())) - {"--help"}
    explained = {flag for row in rows for flag in re.findall(r"`(--[a-z][a-z-]+)", row.split("|")[1])}
    assert flags == explained, (flags - explained, explained - flags)


@pytest.mark.parametrize(
    ("bound", "host", "accepted"),
    [
        ("127.0.0.1", "127.0.0.1:8443", True),
        ("127.0.0.1", "LocalHost:8443", True),
        ("127.0.0.1", "localhost", True),
        ("127.0.0.1", "localhost:9000", True),  # a forwarded port (ssh -L 9000:127.0.0.1:8443)
        ("127.0.0.1", "[::1]:8443", True),
        ("::1", "[::1]", True),
        ("127.0.0.2", "127.0.0.2:8443", True),
        ("127.0.0.1", "localhost.:8443", False),
        ("127.0.0.1", "localhost:", False),
        ("127.0.0.1", "::1", False),
        ("127.0.0.1", "127.0.0.2:8443", False),
        ("127.0.0.1", "attacker.example:8443", False),
        ("127.0.0.1", "", False),
        ("127.0.0.1", None, False),
    ],
)
def test_a_loopback_emulator_answers_only_to_its_own_names(bound: str, host: str | None, accepted: bool) -> None:
    from elastic_jobs_emulator.guard import host_problem

    assert (host_problem(host, bound) is None) is accepted


@pytest.mark.parametrize(
    ("path", "action", "scope"),
    [
        ("/subscriptions/S/providers/Microsoft.Sql/servers", "Microsoft.Sql/servers/read", "/subscriptions/S"),
        (
            "/subscriptions/S/resourceGroups/G/providers/Microsoft.Sql/servers",
            "Microsoft.Sql/servers/read",
            "/subscriptions/S/resourceGroups/G",
        ),
        (
            "/subscriptions/S/resourceGroups/G/providers/Microsoft.Sql/servers/V/elasticPools/P/databases",
            "Microsoft.Sql/servers/elasticPools/databases/read",
            "/subscriptions/S/resourceGroups/G/providers/Microsoft.Sql/servers/V/elasticPools/P",
        ),
        (
            "/subscriptions/S/resourceGroups/G/providers/Microsoft.Sql/servers/V/jobAgents/A/jobs/J",
            "Microsoft.Sql/servers/jobAgents/jobs/read",
            "/subscriptions/S/resourceGroups/G/providers/Microsoft.Sql/servers/V/jobAgents/A/jobs/J",
        ),
        (
            "/subscriptions/S/resourceGroups/G",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "/subscriptions/S/resourceGroups/G",
        ),
        ("/subscriptions/S", "Microsoft.Resources/subscriptions/read", "/subscriptions/S"),
    ],
)
def test_a_denied_read_names_the_action_and_scope_arm_checks(path: str, action: str, scope: str) -> None:
    from elastic_jobs_emulator.access import action_and_scope

    assert action_and_scope(path) == (action, scope)


def test_reads_are_denied_only_to_the_identities_named_and_only_in_that_subscription() -> None:
    from elastic_jobs_emulator.access import ReadAccess

    access = ReadAccess()
    access.deny(SUB, ["Client-A"])
    path = f"/subscriptions/{SUB}/providers/Microsoft.Sql/servers"
    assert access.refusal("client-a", "GET", path) is not None
    assert access.refusal("client-b", "GET", path) is None
    assert access.refusal("client-a", "PUT", f"{path}/s1") is None  # writes stay allowed
    assert access.refusal("client-a", "GET", "/subscriptions/11111111-1111-1111-1111-111111111111") is None
    with pytest.raises(ValueError, match="must be"):
        access.deny("prod")
    access.allow(SUB)
    assert access.refusal("client-a", "GET", path) is None


def test_a_seed_and_a_data_dir_given_as_text_are_read_as_paths(tmp_path: Path) -> None:
    """docs/emulator.md writes ``Emulator(seed="examples/seed.yaml")``: a ``str`` (or any PathLike) works as a Path
    (it raised ``AttributeError: 'str' object has no attribute 'read_text'``)."""
    from elastic_jobs_emulator import Emulator

    seed = Path(__file__).resolve().parents[2] / "examples" / "seed.yaml"
    with Emulator(seed=str(seed), data_dir=str(tmp_path)) as emulator:
        assert emulator.options.seed == seed and emulator.options.data_dir == tmp_path
        group = f"/subscriptions/{SUB}/resourceGroups/group1/providers/Microsoft.Sql/servers/server1/jobAgents/agent1"
        answer = emulator.admin.get(
            f"{emulator.url}{group}?api-version=2025-01-01", headers={"Authorization": f"Bearer {emulator.token}"}
        )
        assert answer.status_code == 200, answer.text
