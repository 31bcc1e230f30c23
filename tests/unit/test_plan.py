"""The plan of a run, as pure data: expansion of target group members, the digest, the pin and the guard's words.

The reads themselves are tested against the emulator over a socket (tests/integration/test_plan_reads.py); here a
fleet is given as data, and a property holds the expansion rule against a model of it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_azure_elastic_jobs.plan import (
    Plan,
    PlannedStep,
    Unresolved,
    changes,
    deploying,
    parse_pin,
    pin_problem,
    script_digest,
    undeployed,
)
from pulumi_azure_elastic_jobs.planning import Fleet, expand

FLEET = Fleet(
    databases={
        "s1": {"master": None, "a": None, "b": "p1", "c": "p1"},
        "s2": {"master": None, "d": None},
    },
    pools={("s3", "p9"): ["x", "y"]},
    missing={"gone": "server gone was not found in subscription(s) 0000 (the provider's identity may not read it)"},
)


def member(kind: str, server: str, name: str | None = None, exclude: bool = False) -> dict[str, Any]:
    found: dict[str, Any] = {"type": kind, "serverName": server}
    if exclude:
        found["membershipType"] = "Exclude"
    if kind == "SqlDatabase":
        found["databaseName"] = name
    elif kind == "SqlElasticPool":
        found["elasticPoolName"] = name
    elif kind == "SqlShardMap":
        found["shardMapName"] = name
    return found


def test_a_server_member_runs_on_its_user_databases_and_never_on_master() -> None:
    databases, unresolved = expand([member("SqlServer", "S1.database.windows.net")], FLEET)
    assert databases == ("s1/a", "s1/b", "s1/c")
    assert unresolved == ()


def test_a_database_member_that_names_master_runs_there() -> None:
    assert expand([member("SqlDatabase", "s1", "master")], FLEET)[0] == ("s1/master",)


def test_a_pool_member_takes_the_pool_databases_from_its_server_listing_or_its_own() -> None:
    assert expand([member("SqlElasticPool", "s1", "P1")], FLEET)[0] == ("s1/b", "s1/c")
    assert expand([member("SqlElasticPool", "s3", "p9")], FLEET)[0] == ("s3/x", "s3/y")


def test_excludes_take_databases_out_whatever_kind_names_them() -> None:
    members = [
        member("SqlServer", "s1"),
        member("SqlServer", "s2"),
        member("SqlElasticPool", "s1", "p1", exclude=True),
        member("SqlDatabase", "s2", "d", exclude=True),
    ]
    assert expand(members, FLEET)[0] == ("s1/a",)


def test_members_that_cannot_be_expanded_are_unresolved_with_the_reason() -> None:
    members = [
        member("SqlServer", "gone"),
        member("SqlShardMap", "s1", "tenants"),
        member("SqlDatabase", "s1", "nope"),
    ]
    databases, unresolved = expand(members, FLEET)
    assert databases == ()
    reasons = {item.member: item.reason for item in unresolved}
    assert "the provider's identity may not read it" in reasons["SqlServer gone"]
    assert "shard map manager" in reasons["SqlShardMap s1/tenants"]
    assert reasons["SqlDatabase s1/nope"] == "no database 'nope' on server s1"


def test_a_database_member_on_a_server_not_listed_is_taken_as_named() -> None:
    assert expand([member("SqlDatabase", "elsewhere", "Db1")], FLEET) == (("elsewhere/db1",), ())


SERVERS = {"s1": ["a", "b", "c"], "s2": ["d"]}
POOLS = {("s1", "p1"): ["b", "c"]}
MEMBERS = st.one_of(
    st.sampled_from(sorted(SERVERS)).map(lambda s: ("SqlServer", s, None)),
    st.sampled_from(sorted(POOLS)).map(lambda sp: ("SqlElasticPool", sp[0], sp[1])),
    st.sampled_from([(s, d) for s, names in SERVERS.items() for d in names]).map(lambda sd: ("SqlDatabase", *sd)),
)


def databases_of(kind: str, server: str, name: str | None) -> set[str]:
    if kind == "SqlServer":
        return {f"{server}/{d}" for d in SERVERS[server]}
    if kind == "SqlElasticPool":
        return {f"{server}/{d}" for d in POOLS[(server, str(name))]}
    return {f"{server}/{name}"}


@given(st.lists(st.tuples(MEMBERS, st.booleans()), max_size=8))
def test_a_database_is_planned_exactly_when_a_member_includes_it_and_none_excludes_it(
    chosen: list[tuple[tuple[str, str, str | None], bool]],
) -> None:
    fleet = Fleet(
        databases={
            s: {"master": None, **{d: ("p1" if (s, d) in {("s1", "b"), ("s1", "c")} else None) for d in names}}
            for s, names in SERVERS.items()
        }
    )
    members = [member(kind, server, name, exclude) for (kind, server, name), exclude in chosen]
    included = set().union(*(databases_of(*m) for m, exclude in chosen if not exclude))
    excluded = set().union(*(databases_of(*m) for m, exclude in chosen if exclude))
    assert set(expand(members, fleet)[0]) == included - excluded


def step(
    databases: tuple[str, ...], script: str = "sha256:aaaaaaaaaaaa", unresolved: tuple[Unresolved, ...] = ()
) -> PlannedStep:
    return PlannedStep(1, "migrate", "fleet", "cred", script, "ALTER TABLE t ADD c int;", 300, 2, databases, unresolved)


PLAN = Plan("nightly", 8, (step(("s1/a", "s1/b", "s2/d")),))


def test_the_summary_says_version_steps_databases_and_servers_in_one_line() -> None:
    busy = Plan("nightly", 8, (step(("s1/a",), unresolved=(Unresolved("SqlShardMap s1/m", "why"),)),), busy=("s1/a",))
    assert PLAN.summary() == "will run nightly v8: 1 step on 3 databases in 2 servers"
    assert busy.summary() == (
        "will run nightly v8: 1 step on 1 database in 1 server; 1 member unresolved; "
        "1 database busy with an active run (skipped)"
    )


def test_the_text_lists_every_database_by_server_under_its_step() -> None:
    lines = PLAN.text().splitlines()
    assert lines[0] == PLAN.summary()
    assert lines[1] == f"pin: s1=2 s2=1 steps=aaaaaaaaaaaa {PLAN.digest}"
    assert "  s1: a, b" in lines
    assert "  s2: d" in lines


def test_the_digest_is_stable_through_state_and_ignores_what_is_running_now_and_why_a_member_did_not_resolve() -> None:
    again = Plan.from_output(PLAN.output())
    assert again is not None and again.digest == PLAN.digest and again == PLAN
    assert Plan("nightly", 8, PLAN.steps, busy=("s1/a",)).digest == PLAN.digest
    one = Plan("j", 1, (step((), unresolved=(Unresolved("SqlShardMap s/m", "request id 1"),)),))
    two = Plan("j", 1, (step((), unresolved=(Unresolved("SqlShardMap s/m", "request id 2"),)),))
    assert one.digest == two.digest


@pytest.mark.parametrize(
    "changed",
    [
        Plan("nightly", 8, (step(("s1/a", "s1/b")),)),
        Plan("nightly", 8, (step(("s1/a", "s1/b", "s2/d"), script="sha256:bbbbbbbbbbbb"),)),
    ],
    ids=["databases", "script"],
)
def test_any_change_to_what_runs_where_changes_the_digest(changed: Plan) -> None:
    assert changed.digest != PLAN.digest


def test_the_same_content_under_the_next_version_is_the_reviewed_plan() -> None:
    """A job step updated in the same deployment as the run makes a new version of the content reviewed."""
    bumped = Plan("nightly", 9, PLAN.steps)
    assert bumped.digest == PLAN.digest and bumped.pin == PLAN.pin and changes(PLAN.pin, bumped) == []


def test_the_guard_names_databases_added_per_server_and_a_version_only_when_pinned() -> None:
    later = Plan("nightly", 9, (step(("s1/a", "s1/b", "s2/d", "s2/e", "s2/f", "s2/g", "s3/z")),))
    assert changes(PLAN.pin, later) == [
        "+3 databases on s2",
        "+1 database on s3",
    ]
    assert changes(PLAN.pin, PLAN) == []
    assert changes(f"v8 {PLAN.pin}", later)[0] == "version 8 -> 9"  # a pin written with a version holds it


def test_the_guard_names_a_changed_script_step_by_step_and_a_step_added_or_removed() -> None:
    edited = Plan("nightly", 8, (step(PLAN.steps[0].databases, script="sha256:bbbbbbbbbbbb"),))
    assert changes(PLAN.pin, edited) == ["step 1 'migrate' script sha256:aaaaaaaaaaaa -> sha256:bbbbbbbbbbbb"]
    backfill = PlannedStep(2, "backfill", "fleet", None, "sha256:cccccccccccc", "UPDATE t SET c = 0;", 1, 0)
    added = Plan("nightly", 9, (*PLAN.steps, backfill))
    assert changes(PLAN.pin, added) == ["step 2 'backfill' added"]
    assert changes(added.pin, PLAN) == ["step 2 removed"]


def test_the_guard_names_what_else_changed_by_the_digest_when_counts_and_scripts_are_the_same() -> None:
    moved = Plan("nightly", 8, (step(("s1/a", "s1/c", "s2/d")),))
    (said,) = changes(PLAN.pin, moved)
    assert said.startswith(f"digest {PLAN.digest} -> {moved.digest}")


def test_a_pin_may_name_only_the_version() -> None:
    assert changes("v8", Plan("nightly", 8, (step(("s9/q",)),))) == []
    assert changes("v8", Plan("nightly", 10, ())) == ["version 8 -> 10"]


def test_a_plan_that_could_not_see_everything_never_matches_a_digest() -> None:
    blind = Plan(
        "nightly", 8, PLAN.steps, unseen=("listing servers in subscription x failed (AuthorizationFailed: no)",)
    )
    assert changes(PLAN.pin, blind) == [
        "the plan could not be read whole: listing servers in subscription x failed (AuthorizationFailed: no)"
    ]


def test_a_plan_that_could_not_see_everything_never_matches_counts_but_a_version_pin_still_judges_the_version() -> None:
    blind = Plan("nightly", 8, PLAN.steps, unseen=("databases of server s1: ServerNotFound: gone",))
    counts = " ".join(part for part in PLAN.pin.split() if not part.startswith(("sha256:", "steps=")))
    assert changes(counts, blind) == ["the plan could not be read whole: databases of server s1: ServerNotFound: gone"]
    assert changes("v8", blind) == [] and changes("v9", blind) == ["version 9 -> 8"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "must name databases per server"),
        ("steps=abc", "cannot read 'steps=abc'"),
        ("version8", "cannot read 'version8'"),
        ("sha256:abc", "cannot read 'sha256:abc'"),
    ],
)
def test_a_pin_that_cannot_be_read_is_refused_before_any_request(text: str, problem: str) -> None:
    found = pin_problem(text)
    assert found is not None and problem in found


def test_a_pin_reads_back_what_a_plan_writes() -> None:
    pin = parse_pin(PLAN.pin)
    assert (pin.version, pin.servers, pin.scripts, pin.digest) == (None, {"s1": 2, "s2": 1}, PLAN.scripts, PLAN.digest)


# --- found by the generated mutants (python -m tests.engine.mutate): what a plan says and how it reads back -------


def test_a_steps_first_line_is_shown_whole_up_to_the_limit_and_cut_with_an_ellipsis_beyond() -> None:
    from pulumi_azure_elastic_jobs.plan import MAX_FIRST_LINE, first_line

    exact, longer = "x" * MAX_FIRST_LINE, "y" * (MAX_FIRST_LINE + 1)
    assert first_line(f"\n  \n{exact}\nSELECT 2;") == exact
    assert first_line(longer) == "y" * (MAX_FIRST_LINE - 3) + "..." and len(first_line(longer)) == MAX_FIRST_LINE


def test_the_pin_counts_each_servers_databases_once() -> None:
    assert PLAN.servers == {"s1": 2, "s2": 1}
    assert PLAN.pin.startswith("s1=2 s2=1 steps=")


def test_the_text_says_which_databases_an_active_run_holds_only_when_one_does() -> None:
    held = Plan("nightly", 8, PLAN.steps, busy=("s1/a",))
    assert "busy (an active run holds them; the service skips them): s1/a" in held.text().splitlines()
    assert not [line for line in PLAN.text().splitlines() if line.startswith("busy")]


def test_a_plan_reads_back_from_state_exactly_as_it_was_written_and_nothing_else_reads_as_one() -> None:
    written = Plan(
        "nightly",
        8,
        (step(("s1/a",), unresolved=(Unresolved("SqlShardMap s1/m", "no shard map manager"),)),),
        busy=("s1/a",),
        unseen=("targets of active run r1: InternalServerError: no",),
    )
    assert Plan.from_output(written.output()) == written
    bare = Plan.from_output({"steps": [{}]})
    assert bare == Plan("", 0, (PlannedStep(0, "", "", None, "", "", 0, 0, (), ()),))
    assert Plan.from_output(None) is None and Plan.from_output({"steps": "s"}) is None
    assert Plan.from_output({"job": "j"}) is None


def test_a_server_the_pin_does_not_name_counts_all_its_databases_as_added() -> None:
    grown = Plan("nightly", 8, (step(("s1/a", "s1/b", "s2/d", "s3/x", "s3/y")),))
    assert changes("v8 s1=2 s2=1", grown) == ["+2 databases on s3"]
    assert changes("v8 s1=2 s2=1 s4=3", PLAN) == ["-3 databases on s4"]


# --- the steps this deployment deploys ---------------------------------------------------------------------------

NEW_SCRIPT = "ALTER TABLE t ADD d int;\nGO"


def test_the_plan_of_this_deployment_shows_the_script_it_gives_a_step_and_pins_what_the_merge_will_run() -> None:
    planned = deploying(PLAN, {"Migrate": NEW_SCRIPT})  # step names as ARM compares them: case aside
    (migrate,) = planned.steps
    assert (migrate.script_digest, migrate.script_first_line) == (script_digest(NEW_SCRIPT), "ALTER TABLE t ADD d int;")
    assert planned.deployed == ("migrate",) and planned.version == 8
    assert planned.summary().startswith("will run nightly v8 with this deployment's step 'migrate': 1 step")
    merged = Plan(
        "nightly",
        9,
        (replace(PLAN.steps[0], script_digest=script_digest(NEW_SCRIPT), script_first_line=migrate.script_first_line),),
    )
    assert changes(planned.pin, merged) == [] and undeployed({"migrate": NEW_SCRIPT}, merged) == []


def test_a_script_given_as_its_digest_or_the_live_one_changes_nothing_but_what_the_plan_says() -> None:
    assert deploying(PLAN, {"migrate": "sha256:aaaaaaaaaaaa"}) == PLAN  # the live script, as its digest
    digest = script_digest(NEW_SCRIPT)
    by_digest = deploying(PLAN, {"migrate": digest + "0" * 8})  # a longer digest, compared on 12
    assert by_digest.steps[0].script_digest == digest and by_digest.deployed == ("migrate",)


def test_a_step_new_in_this_deployment_leaves_the_plan_incomplete_since_where_it_runs_is_unknown() -> None:
    planned = deploying(PLAN, {"backfill": "UPDATE t SET c = 0;"})
    assert planned.steps == PLAN.steps and planned.deployed == ()
    assert planned.unseen == ("step 'backfill' is new in this deployment: where it runs is known once it exists",)


def test_a_run_whose_steps_do_not_run_the_scripts_given_is_named_step_by_step() -> None:
    assert undeployed({"migrate": NEW_SCRIPT, "gone": "SELECT 1"}, PLAN) == [
        f"step 'migrate' runs sha256:aaaaaaaaaaaa (v8), not the {script_digest(NEW_SCRIPT)} step_scripts gives it",
        "step 'gone' is not in job nightly v8",
    ]
    assert undeployed(None, PLAN) == [] and undeployed({"migrate": "sha256:aaaaaaaaaaaa"}, PLAN) == []


def test_a_steps_diff_is_cut_at_its_limit_and_a_digest_only_step_says_it_has_no_text() -> None:
    from pulumi_azure_elastic_jobs.script_changes import MAX_DIFF_LINES, LastRun, changes_text, step_changes

    long_script = "\n".join(f"PRINT {n};" for n in range(MAX_DIFF_LINES + 50))
    last = LastRun("nightly", 7, {"migrate": "PRINT 0;"})
    (changed,) = step_changes(last, deploying(PLAN, {"migrate": long_script}))
    lines = changed.diff.splitlines()
    assert changed.status == "changed" and len(lines) == MAX_DIFF_LINES + 1 and lines[-1] == "... 53 more lines"
    (digest_only,) = step_changes(last, deploying(PLAN, {"migrate": script_digest(long_script)}))
    text = changes_text(last, [digest_only])
    assert text.endswith("step 1 'migrate': only its digest is known here, no text to compare")


def test_a_pool_member_says_why_its_server_or_its_pool_could_not_be_read() -> None:
    fleet = Fleet(
        databases={},
        pools={("s9", "p1"): "AuthorizationFailed: no reader role"},
        missing={"gone": "server gone was not found in subscription(s) 0000 (listing servers ... failed)"},
    )
    databases, unresolved = expand(
        [member("SqlElasticPool", "gone", "p1"), member("SqlElasticPool", "s9", "p1")], fleet
    )
    reasons = {item.member: item.reason for item in unresolved}
    assert databases == () and "server gone was not found" in reasons["SqlElasticPool gone/p1"]
    assert "AuthorizationFailed: no reader role" in reasons["SqlElasticPool s9/p1"]
