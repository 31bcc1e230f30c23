"""The mutants the promise's tests must kill: each breaks one behaviour a user relies on, at the one place that
implements it (issue 26).

A mutant names what it breaks in the user's words, the module it patches (a path under
``provider/pulumi_azure_elastic_jobs/``), an exact snippet of that module (``old``, found exactly once) and what
replaces it (``new``), and the tests that must kill it (``killers``), fastest first: the mutation gate
(``test_mutation_gate.py``) stops a mutant's run at its first failing killer. The state machine
(:data:`STATE_MACHINE`) comes last wherever it is cited as the proof of the behaviour.

When a refactor moves the code a mutant patches, :func:`patched` fails naming the mutant: write the mutant again
against the new code, at the place that now implements the behaviour; never drop it to make the gate pass.
"""

from __future__ import annotations

from dataclasses import dataclass

STATE_MACHINE = "tests/engine/test_run_lives.py::test_the_lives_of_runs"
"""The Hypothesis state machine cited as the proof of "one intent, one run"."""

_ONE_INTENT = "tests/engine/test_one_intent_one_run.py"
_EXACTLY_ONCE = "tests/engine/test_exactly_once.py"
_PARTIAL = "tests/engine/test_partial_creates.py"
_SETS = "tests/engine/test_set_reliability.py"
_CLIENT = "tests/integration/test_client.py"
_REPLAY = "tests/integration/test_replay.py"
_REPLAY_PLUGINS = "tests/engine/test_replay_plugins.py"
_PLAN = "tests/unit/test_plan.py"
_PLAN_GUARD = "tests/engine/test_plan_guard.py"
_TRANSPORT = "tests/integration/test_transport.py"
_TRANSPORT_RULES = "tests/integration/test_transport_rules.py"
_PLAN_VIEWS = "tests/engine/test_plan_views.py"
_PURE = "tests/unit/test_pure_logic.py"
_SECOND = "tests/engine/test_second_paths.py"
_PLAN_READS = "tests/integration/test_plan_reads.py"
_PLAN_COMMENT = "tests/unit/test_plan_comment.py"
_POLICY = "tests/unit/test_policy_rules.py"
_ROLLOUTS = "tests/engine/test_rollouts.py"
_ROLLOUT_MODEL = "tests/engine/test_rollout_lives.py::test_the_lives_of_a_rollout"


@dataclass(frozen=True)
class Mutant:
    name: str
    breaks: str
    """The behaviour the mutant breaks, as a user would say it."""
    module: str
    """The patched module, relative to ``provider/pulumi_azure_elastic_jobs/``."""
    old: str
    new: str
    killers: tuple[str, ...]
    """Test node ids that must fail with the mutant in place, fastest first."""


class MutantOutOfDate(Exception):
    """A mutant's ``old`` snippet is not in its module exactly once: the code moved, and the mutant must follow."""


def patched(mutant: Mutant, source: str) -> str:
    """``source`` (the module's text) with the mutant applied; raises :class:`MutantOutOfDate` naming it."""
    found = source.count(mutant.old)
    if found != 1:
        where = "is no longer" if found == 0 else f"is {found} times"
        raise MutantOutOfDate(
            f"mutant {mutant.name!r}: its `old` snippet {where} in {mutant.module}; the code it breaks moved, so "
            "write the mutant again in tests/engine/mutants.py against the place that now implements: "
            f"{mutant.breaks}"
        )
    return source.replace(mutant.old, mutant.new)


MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        name="target-listing-error-escapes-create",
        breaks="a finished run whose best-effort target listing fails fails the create, and the run is lost",
        module="client.py",
        old=(
            "        except ElasticJobsError as error:  # the execution's own lifecycle and message still stand\n"
            '            log.warning("could not list target executions of %s: %s", ref.arm_id, error)\n'
            "            return TargetOutcomes()\n"
        ),
        new="        except ElasticJobsError:\n            raise\n",
        killers=(
            f"{_ONE_INTENT}::test_a_waited_run_whose_target_listing_fails_is_recorded_and_not_run_again",
            f"{_ONE_INTENT}::test_a_set_whose_target_listings_fail_keeps_every_started_run",
            STATE_MACHINE,
        ),
    ),
    Mutant(
        name="set-update-ignores-a-cancel-that-did-not-take",
        breaks="a set member's new run starts beside its superseded run that would not stop",
        module="operations.py",
        old=(
            "        stuck = {\n"
            "            key: Member(ref, error=CancelNotEffective([ref])) for key, ref in retired.items() "
            "if ref in still_active\n"
            "        }\n"
        ),
        new="        stuck: dict[str, Member] = {}\n",
        killers=(
            f"{_ONE_INTENT}::test_a_set_member_whose_superseded_run_will_not_stop_starts_nothing_and_destroy_fails_naming_it",
            STATE_MACHINE,
        ),
    ),
    Mutant(
        name="unstarted-set-member-never-retried",
        breaks="a set member that could not start is never tried again by the next up",
        module="operations.py",
        old='        elif any(not (item or {}).get("azure_id") or _unconfirmed(item) for item in recorded.values()):\n',
        new="        elif any(_unconfirmed(item) for item in recorded.values()):\n",
        killers=(
            f"{_EXACTLY_ONCE}::test_a_set_member_whose_job_is_missing_is_recorded_and_the_others_are_not_started_again",
            STATE_MACHINE,
        ),
    ),
    Mutant(
        name="put-not-retried-after-a-dropped-connection",
        breaks="a PUT whose connection dropped is not tried again: the up fails though the run may have started",
        module="client.py",
        old="            if safe or never_sent:\n",
        new='            if (safe and method != "PUT") or never_sent:\n',
        killers=(
            f"{_CLIENT}::test_a_dropped_connection_during_a_put_is_retried_and_starts_one_run",
            f"{_EXACTLY_ONCE}::test_a_put_whose_answer_is_lost_after_it_acted_starts_one_run",
            STATE_MACHINE,
        ),
    ),
    Mutant(
        name="active-runs-forgotten-past-1000-executions",
        breaks="on a job with more than 1,000 executions, the active run of this intent is not found and a second "
        "one starts beside it",
        module="runs.py",
        old="                return JobRuns(active_runs(client, job))\n",
        new="                return JobRuns({})\n",
        killers=(
            "tests/engine/test_run_lives.py::test_a_job_past_the_listing_budget_keeps_one_run_per_intent",
            STATE_MACHINE,
        ),
    ),
    Mutant(
        name="one-execution-key-for-every-native-resource",
        breaks="native resources of different names or stacks share one chain of runs and attach to each other's run",
        module="native/provider.py",
        old='        news.setdefault("execution_key", request.urn)  # the URN names this resource in its stack\n',
        new='        news.setdefault("execution_key", "azure-elastic-jobs")\n',
        killers=(
            "tests/engine/test_native.py::test_create_starts_one_run_with_camel_case_outputs_and_a_second_create_attaches",
            "tests/engine/test_identity_decisions.py"
            "::test_two_stacks_of_identical_names_on_one_job_share_a_chain_and_the_second_attaches",
        ),
    ),
    Mutant(
        name="a-202-put-also-puts-a-second-id",
        breaks="an execution PUT answered 202 starts a second run under another id",
        module="client.py",
        old=(
            "        if response.status_code == 202:\n"
            "            self._follow_long_running(response, lro_timeout)\n"
            "            return PutResult(self.get_execution(ref), 202)\n"
        ),
        new=(
            "        if response.status_code == 202:\n"
            "            self._follow_long_running(response, lro_timeout)\n"
            '            self.request("PUT", ref.job.execution(str(uuid.uuid4())).path)\n'
            "            return PutResult(self.get_execution(ref), 202)\n"
        ),
        killers=(
            f"{_CLIENT}::test_a_202_never_decides_whether_a_run_is_new[always]",
            f"{_EXACTLY_ONCE}::test_destroy_then_up_starts_one_new_run_when_every_put_answers_202",
        ),
    ),
    Mutant(
        name="set-update-restarts-kept-members-whose-run-was-forgotten",
        breaks="an unchanged set member whose run history retention removed runs again on the next update",
        module="operations.py",
        old="        kept = {key: Member(recorded[key]) for key in unchanged if key not in unconfirmed}\n",
        new=(
            "        kept = {\n"
            "            key: Member(recorded[key])\n"
            "            for key in unchanged\n"
            "            if key not in unconfirmed\n"
            "            and _read_member(self.client(inputs.api_version), recorded[key])[0] is not None\n"
            "        }\n"
        ),
        killers=(
            f"{_SETS}::test_an_update_of_a_set_after_retention_keeps_finished_forgotten_members_as_refresh_does[dynamic]",
            STATE_MACHINE,
        ),
    ),
    Mutant(
        name="update-after-retention-starts-a-new-run",
        breaks="a JobExecution whose run history retention removed runs the job again when its waiting options change",
        module="operations.py",
        old=(
            "            execution = client.get_execution(ref) if not unconfirmed(olds) "
            "else client.ensure_execution(ref).execution\n"
        ),
        new="            execution = client.ensure_execution(ref).execution\n",
        killers=(
            "tests/engine/test_partial_creates.py"
            "::test_an_update_of_a_forgotten_run_changing_only_how_it_waits_starts_nothing",
            STATE_MACHINE,
        ),
    ),
    Mutant(
        name="pinned-id-put-without-reading-it-first",
        breaks="a pinned job_execution_id is PUT without first reading whether its run exists: an existing run is "
        "taken for one this deployment started",
        module="runs.py",
        old=(
            "        existing, asked_at = client.find_execution(ref)"
            "  # as ElasticJobsClient.ensure_execution reads it\n"
            "        return Claim(ref, asked_at) if existing is None else Run(ref, existing, started=False)\n"
        ),
        new="        return Claim(ref, None)\n",
        killers=(
            "tests/engine/test_partial_creates.py"
            "::test_a_create_before_delete_replacement_of_a_pinned_active_run_keeps_it",
            f"{_ONE_INTENT}::test_a_set_members_pinned_execution_id_is_the_run_it_starts",
            "tests/engine/test_identity_decisions.py"
            "::test_one_pinned_id_on_two_resources_is_one_run_and_destroying_either_later_cancels_it",
            STATE_MACHINE,
        ),
    ),
    Mutant(
        name="unsettled-create-not-recorded",
        breaks="a create whose run started but did not settle (its wait timed out) is not recorded, so the next up "
        "runs the job again once that run ended",
        module="operations.py",
        old=(
            "        except ElasticJobsError as unsettled:\n"
            "            outputs = _resource_outputs("
            "declared, run.execution, run.ref, TargetOutcomes(), _planned(plan))\n"
            "            raise StartedButUnsettled(run.ref.arm_id, outputs, unsettled) from unsettled\n"
        ),
        new="        except ElasticJobsError:\n            raise\n",
        killers=(
            f"{_PARTIAL}::test_a_timed_out_create_whose_run_then_ends_is_never_run_again_by_the_next_up",
            f"{_PARTIAL}::test_a_native_create_cut_by_custom_timeouts_is_recorded_and_the_next_up_waits_for_the_same_run",
            STATE_MACHINE,
        ),
    ),
    Mutant(
        name="replacement-delete-cancels-the-adopted-run",
        breaks="a create-before-delete replacement's delete of the old resource cancels the run the new one "
        "attached to",
        module="operations.py",
        old="            return arm_id.lower() in self._adopted\n",
        new="            return False\n",
        killers=(
            f"{_PARTIAL}::test_a_create_before_delete_replacement_of_an_active_run_keeps_the_run_it_attached_to[dynamic]",
            f"{_PARTIAL}::test_a_create_before_delete_replacement_of_an_active_run_keeps_the_run_it_attached_to[native]",
        ),
    ),
    Mutant(
        name="unconfirmed-put-id-not-ensured-by-the-next-up",
        breaks="a JobExecution whose PUT's every answer was lost is never started by the next up when the PUT never "
        "arrived",
        module="operations.py",
        old=(
            "            execution = client.get_execution(ref) if not unconfirmed(olds) "
            "else client.ensure_execution(ref).execution\n"
        ),
        new="            execution = client.get_execution(ref)\n",
        killers=(
            f"{_PARTIAL}::test_a_create_whose_put_answers_were_all_lost_is_recorded_with_its_id_and_ensured_by_the_next_up"
            "[dynamic-drop]",
            f"{_PARTIAL}::test_a_create_whose_put_answers_were_all_lost_is_recorded_with_its_id_and_ensured_by_the_next_up"
            "[native-drop]",
            STATE_MACHINE,
        ),
    ),
    Mutant(
        name="dynamic-unknown-not-the-unknown-marker",
        breaks="in a preview, another resource's unknown output reaches the dynamic provider as a missing value: "
        "check refuses it, or the diff misses a replacement",
        module="provider.py",
        old="    if isinstance(value, Unknown):\n        return UNKNOWN\n",
        new="    if isinstance(value, Unknown):\n        return None\n",
        killers=(
            "tests/engine/test_engine_values.py"
            "::test_a_job_name_from_another_resources_unknown_output_passes_check_and_diffs_as_a_replace[dynamic]",
            "tests/engine/test_engine_values.py"
            "::test_every_execution_input_the_engine_can_send_is_taken_without_a_crash_or_a_request[dynamic]",
        ),
    ),
    Mutant(
        name="delete-cancels-a-later-run-under-the-recorded-id",
        breaks="after a job was deleted and made again, a create-before-delete replacement's new run (under the id "
        "the old resource names) is cancelled by the old resource's delete",
        module="operations.py",
        old="            if not _the_recorded_run(execution, props) or (\n",
        new="            if False or (\n",
        killers=(
            "tests/engine/test_partial_creates.py"
            "::test_a_create_before_delete_replacement_after_the_job_was_made_again_keeps_its_new_run",
            STATE_MACHINE,
        ),
    ),
    # The live service's own answers, replayed from its recordings (issue 27).
    Mutant(
        name="waiting-for-child-executions-taken-for-an-end",
        breaks="a run the live service reports WaitingForChildJobExecutions (every running run) is taken for "
        "finished: the wait stops at once and the resource records an unfinished run without its targets",
        module="terms.py",
        old='    {"Succeeded", "SucceededWithSkipped", "Failed", "TimedOut", "Canceled", "Skipped"}\n',
        new='    {"Succeeded", "SucceededWithSkipped", "Failed", "TimedOut", "Canceled", "Skipped", '
        '"WaitingForChildJobExecutions"}\n',
        killers=(
            f"{_REPLAY}::test_a_started_run_is_polled_through_waiting_for_child_executions_to_its_end_at_the_clients_own_pace",
            f"{_REPLAY_PLUGINS}::test_a_run_found_waiting_for_child_executions_is_attached_to_and_waited_to_its_recorded_end"
            "[native]",
        ),
    ),
    Mutant(
        name="a-cancel-answered-with-an-empty-body-is-a-failure",
        breaks="a destroy fails when the live service accepts the cancel with 200, an empty body and a Location",
        module="client.py",
        old='        self.request("POST", f"{ref.path}/cancel", idempotent=True)\n',
        new='        self._parse(self.request("POST", f"{ref.path}/cancel", idempotent=True), JobExecution)\n',
        killers=(
            f"{_REPLAY}::test_cancelling_a_finished_run_answered_200_with_an_empty_body_and_a_location_is_a_success",
            f"{_REPLAY_PLUGINS}::test_destroying_a_run_that_ends_as_it_is_cancelled_answered_200_with_an_empty_body_succeeds"
            "[dynamic]",
        ),
    ),
    Mutant(
        name="skipped-fails-the-deployment-by-default",
        breaks="a run the service skipped fails the deployment though fail_on does not name Skipped",
        module="terms.py",
        old='DEFAULT_FAIL_ON: tuple[str, ...] = ("Failed", "TimedOut", "Canceled")\n',
        new='DEFAULT_FAIL_ON: tuple[str, ...] = ("Failed", "TimedOut", "Canceled", "Skipped")\n',
        killers=(
            f"{_REPLAY_PLUGINS}::test_a_skipped_run_ends_the_deployment_as_a_success_despite_its_canceled_provisioning_state"
            "[dynamic]",
        ),
    ),
    Mutant(
        name="an-id-under-a-deleted-job-read-as-free",
        breaks="a read under a job the live service says is gone (ResourceNotFound naming the job) reports the id "
        "free, and the PUT that follows is refused",
        module="client.py",
        old="            if missing.missing_parent:\n",
        new='            if missing.code == "ParentResourceNotFound":\n',
        killers=(f"{_REPLAY}::test_reading_an_id_under_a_deleted_job_is_an_error_not_a_free_id",),
    ),
    Mutant(
        name="a-run-left-out-of-a-listing-counts-as-ended",
        breaks="a run that its job's listing leaves out (a lagging listing) is taken as ended without its own "
        "state, so a set finishes while that run still runs",
        module="client.py",
        old="                if execution is not None:  # its own state as listed; never its absence\n",
        new="                if execution is None and ref in result.latest:\n"
        "                    ended = result.latest[ref].properties.model_copy(update={'lifecycle': 'Succeeded'})\n"
        "                    execution = result.latest[ref].model_copy(update={'properties': ended})\n"
        "                if execution is not None:\n",
        killers=(f"{_CLIENT}::test_a_run_a_lagging_listing_leaves_out_is_read_and_still_waited_for",),
    ),
    Mutant(
        name="an-unreviewed-plan-runs",
        breaks="a create with expected_plan starts a run whose live plan is not the pinned one (the job was edited "
        "between review and merge)",
        module="runs.py",
        old="    changed = changes(expected_plan, plan)\n",
        new="    changed: list[str] = []\n",
        killers=(
            f"{_PLAN_GUARD}::test_an_edited_job_is_refused_before_any_mutating_request_and_the_reviewed_one_runs"
            "[dynamic]",
        ),
    ),
    Mutant(
        name="a-server-target-plans-master",
        breaks="the plan of a server target names master, which the service never runs a server target on",
        module="planning.py",
        old="        return {database_key(server, name) for name in found if name not in SYSTEM_DATABASES}, None\n",
        new="        return {database_key(server, name) for name in found}, None\n",
        killers=(f"{_PLAN}::test_a_server_member_runs_on_its_user_databases_and_never_on_master",),
    ),
    Mutant(
        name="an-excluded-database-is-planned",
        breaks="the plan names databases a target group excludes, so a reviewer sees the wrong fleet",
        module="planning.py",
        old="    return tuple(sorted(included - excluded)), tuple(unresolved)\n",
        new="    return tuple(sorted(included)), tuple(unresolved)\n",
        killers=(f"{_PLAN}::test_excludes_take_databases_out_whatever_kind_names_them",),
    ),
    Mutant(
        name="a-listed-run-keeps-the-state-it-was-first-parsed-with",
        breaks="a waited run whose item in the job's listing changed (it ended) is taken as it was first listed, so "
        "the wait never sees it end",
        module="client.py",
        old="            if before is not None and before[0] == item:\n",
        new="            if before is not None:\n",
        killers=(f"{_CLIENT}::test_runs_of_one_job_are_waited_for_by_one_listing_a_round_and_no_read_of_their_own",),
    ),
    Mutant(
        name="a-start-goes-out-on-a-connection-the-server-closed",
        breaks="a POST start rides a kept keep-alive connection, which the server may close as it arrives: it fails "
        "after it may have been sent, so the client can neither repeat it nor say the service did not act",
        module="transport.py",
        old="        pool = self._pool if repeatable else self._single\n",
        new="        pool = self._pool\n",
        killers=(
            f"{_TRANSPORT_RULES}::test_a_request_that_must_not_be_repeated_never_rides_a_kept_connection",
            f"{_TRANSPORT}::test_a_request_that_must_not_be_repeated_goes_out_on_a_connection_of_its_own",
        ),
    ),
    Mutant(
        name="a-token-with-a-line-break-goes-to-the-http-library",
        breaks="a token that cannot go in a header reaches the HTTP library, whose error quotes it (the token in "
        "the plugin's output)",
        module="client.py",
        old="        if problem := token_problem(token):",
        new="        if (problem := token_problem(token)) and False:",
        killers=(
            f"{_TRANSPORT_RULES}::test_a_token_source_that_gives_an_unsendable_token_fails_before_anything_is_sent",
        ),
    ),
    Mutant(
        name="a-proxy-refusing-its-login-is-asked-again",
        breaks="a proxy's 407 to CONNECT is retried like a dropped connection: one failed proxy login a try, an "
        "account-lockout risk",
        module="transport.py",
        old="        if refused and 400 <= int(refused.group(1)) < 500:",
        new="        if refused and 400 <= int(refused.group(1)) < 400:",
        killers=(
            f"{_TRANSPORT}::test_a_proxy_that_refuses_the_credentials_is_asked_once_and_the_error_says_so",
            f"{_TRANSPORT_RULES}::test_a_proxy_that_refuses_the_credentials_is_asked_once_and_named",
        ),
    ),
    Mutant(
        name="an-answer-is-read-whatever-its-size",
        breaks="an answer as large as the peer likes is read into memory, on every retry",
        module="transport.py",
        old="                if size > self._max_response_bytes:",
        new="                if size < 0:",
        killers=(
            f"{_TRANSPORT}::test_a_plain_answer_past_the_limit_is_refused_too",
            f"{_TRANSPORT_RULES}::test_an_answer_past_the_size_limit_is_read_once_and_names_the_setting",
        ),
    ),
    Mutant(
        name="an-encoded-answer-is-taken",
        breaks="a compressed answer the client did not ask for is taken, its bytes read as the answer (or, decoded, "
        "a memory bomb)",
        module="transport.py",
        old='                if encoding != "identity":',
        new="                if False:",
        killers=(f"{_TRANSPORT}::test_the_client_asks_for_no_encoding_and_refuses_an_answer_encoded_anyway",),
    ),
    Mutant(
        name="a-dropped-tls-handshake-is-taken-for-distrust",
        breaks="a TLS handshake the peer dropped is reported as an untrusted certificate and never retried",
        module="transport.py",
        old="        if isinstance(cause, (ssl.SSLCertVerificationError, ssl.CertificateError)):",
        new="        if isinstance(cause, (ssl.SSLError, ssl.CertificateError)):",
        killers=(f"{_TRANSPORT}::test_a_tls_handshake_the_peer_drops_is_a_connection_that_never_sent_anything",),
    ),
    Mutant(
        name="an-exchange-has-no-deadline",
        breaks="a proxy that sends header lines after CONNECT forever, or an answer trickled a byte at a time, holds "
        "the request past every timeout",
        module="transport.py",
        old="                exchange.expired = True\n                _shut(exchange.connection)\n",
        new="                exchange.expired = False\n",
        killers=(
            f"{_TRANSPORT}::test_an_answer_that_never_ends_is_cut_at_the_exchange_deadline",
            f"{_TRANSPORT}::test_a_proxy_that_never_ends_its_answer_to_connect_is_cut_off_at_the_connect_timeout",
        ),
    ),
    Mutant(
        name="a-pinned-member-starts-unreviewed",
        breaks="a set member with expected_plan starts a run whose job was edited after the review",
        module="runs.py",
        old="            if isinstance(chosen, Claim) and _guarded(member):\n",
        new="            if False:\n",
        killers=(
            f"{_SETS}::test_a_member_whose_job_changed_since_review_starts_nothing_and_runs_once_re_pinned[native]",
        ),
    ),
    Mutant(
        name="a-new-pin-re-runs-a-member",
        breaks="changing a set member's expected_plan alone re-runs a member whose run already happened",
        module="operations.py",
        old='        "job_execution_id": member.get("job_execution_id"),\n    }\n',
        new='        "job_execution_id": member.get("job_execution_id"),\n'
        '        "pin": member.get("expected_plan"),\n    }\n',
        killers=(
            f"{_SETS}::test_a_member_whose_job_changed_since_review_starts_nothing_and_runs_once_re_pinned[dynamic]",
        ),
    ),
    Mutant(
        name="a-preview-shows-no-row-per-database",
        breaks="a native preview publishes no view of the databases its run will touch",
        module="native/provider.py",
        old="                await self._run(views.show_rows, status, request.urn, announced, "
        "ops.settings().plan_rows)\n",
        new="                pass\n",
        killers=(f"{_PLAN_VIEWS}::test_a_preview_publishes_a_row_per_planned_database_and_a_run_publishes_none",),
    ),
    Mutant(
        name="rows-of-two-runs-over-one-database-collide",
        breaks="two runs over the same database (a migration and a reindex on one target group) fail `pulumi "
        "preview` and `up` with `duplicate resource ...PlannedDatabase::server1/app-db-1`: a row is named by its "
        "database alone, and the engine names a view by its resource's type and the row's name",
        module="native/views.py",
        old='    return "/".join([resource, *([] if member is None else [member]), server, database])\n',
        new='    return "/".join([server, database])\n',
        killers=(
            f"{_PLAN_VIEWS}::test_a_preview_publishes_a_row_per_planned_database_and_a_run_publishes_none",
            f"{_PLAN_VIEWS}::test_every_program_previews_one_row_per_resource_and_database_and_no_two_rows_share_a_urn",
        ),
    ),
    Mutant(
        name="a-pin-refuses-the-version-its-own-deployment-makes",
        breaks="the pin a pull request's preview prints makes the merge's `up` refuse (`version 1 -> 2`): the job "
        "step update in the same deployment makes a new version of the very content reviewed, and the pin holds "
        "the version number the service assigns instead of the content",
        module="plan.py",
        old='        return " ".join(part for part in (servers, steps, self.digest) if part)\n',
        new='        return " ".join(part for part in (f"v{self.version}", servers, steps, self.digest) if part)\n',
        killers=(
            f"{_PLAN_GUARD}::test_a_pr_that_edits_the_step_previews_its_new_script_and_the_pin_holds_through_the_merges"
            "_new_version[native]",
        ),
    ),
    Mutant(
        name="a-replacement-shows-its-plan-twice",
        breaks="a dynamic-provider preview of a replacement prints the plan twice, the second time as a first run's: "
        "the engine checks a replaced resource with its old inputs, then with none",
        module="provider.py",
        old="        if new and key in _replacing:\n",
        new="        if False:\n",
        killers=(
            f"{_PLAN_GUARD}::test_the_dynamic_face_shows_a_replacements_plan_once_though_the_engine_checks_it_twice",
        ),
    ),
    Mutant(
        name="a-secret-script-shows-in-the-preview",
        breaks="a job step's script given to stepScripts as a secret is printed in the preview's plan and diff",
        module="native/provider.py",
        old='    if "stepScripts" not in secrets and "members" not in secrets:\n',
        new="    if True:\n",
        killers=(f"{_PLAN_GUARD}::test_a_secret_script_is_planned_by_its_digest_and_its_text_is_never_shown",),
    ),
    Mutant(
        name="a-no-change-check-loads-the-validator",
        breaks="a Check of recorded inputs (every no-change preview and up) imports pydantic and the validator: the "
        "plan hook imports from the validator's module before its early return (the regression benchmark 7 found)",
        module="operations.py",
        old="        if olds and not self.diff(olds, inputs).replaces:\n"
        "            return Announced()\n        live = self.",
        new="        from .inputs import validate as _\n\n"
        "        if olds and not self.diff(olds, inputs).replaces:\n"
        "            return Announced()\n        live = self.",
        killers=(f"{_PURE}::test_a_no_change_check_in_a_fresh_plugin_loads_no_validator",),
    ),
    Mutant(
        name="a-later-wave-starts-after-a-failed-gate",
        breaks="a rollout whose canary wave failed its gate starts the later waves anyway",
        module="operations.py",
        old='            if verdict.lifecycle != "Succeeded":\n',
        new="            if False:\n",
        killers=(
            f"{_ROLLOUTS}::test_a_canary_that_fails_on_one_database_halts_the_rollout_and_the_fix_runs_it_once_more_"
            "then_the_rest[dynamic]",
            f"{_ROLLOUT_MODEL}[native]",
        ),
    ),
    Mutant(
        name="a-resumed-rollout-re-runs-a-finished-wave",
        breaks="the up that resumes a halted rollout starts the members of the waves that passed once more",
        module="operations.py",
        old="[key for key in keys if key in starting]",
        new="list(keys)",
        killers=(
            f"{_ROLLOUTS}::test_a_rollout_halted_in_a_later_wave_resumes_there_and_never_runs_a_passed_wave_again"
            "[native]",
            f"{_ROLLOUT_MODEL}[dynamic]",
        ),
    ),
    # The second paths of issue 35: each beside a well-tested first path, where an outside audit's mutant survived.
    Mutant(
        name="a-counts-pin-matches-a-plan-not-read-whole",
        breaks="a pin with a version and database counts but no digest starts a run whose plan could not be read whole",
        module="plan.py",
        old="    if plan.unseen and (pin.digest is not None or pin.servers is not None or pin.scripts is not None):\n",
        new="    if plan.unseen and (pin.digest is not None or pin.scripts is not None):\n",
        killers=(
            f"{_PLAN}::test_a_plan_that_could_not_see_everything_never_matches_counts_but_a_version_pin_still_judges"
            "_the_version",
            f"{_SECOND}::test_a_pin_with_counts_never_starts_a_run_whose_server_listing_was_refused[native]",
        ),
    ),
    Mutant(
        name="a-refused-server-listing-leaves-the-plan-whole",
        breaks="a plan whose server listing was refused counts as read whole, so a pin with counts (or the digest "
        "of a review as blind) starts its run",
        module="planning.py",
        old="                self.unseen.append(refused[-1])  # a read that failed: the plan is not whole, whatever it "
        "resolved\n",
        new="",
        killers=(
            f"{_PLAN_READS}::test_a_refused_read_of_the_fleet_leaves_the_plan_incomplete_so_no_pin_with_counts_or"
            "_digest_matches_it",
            f"{_SECOND}::test_a_pin_with_counts_never_starts_a_run_whose_server_listing_was_refused[dynamic]",
        ),
    ),
    Mutant(
        name="a-put-throttled-after-its-lost-answer-counts-as-refused",
        breaks="a PUT that started the run, lost its answer, then met 429 past the retry budget is not recorded, so "
        "the next up starts a second run once the first has ended",
        module="runs.py",
        old="    refused = isinstance(error, ArmError) and 400 <= error.status < 500 and error.status != 429\n",
        new="    refused = isinstance(error, ArmError) and 400 <= error.status < 500\n",
        killers=(
            f"{_SECOND}::test_a_put_that_acted_then_was_throttled_past_the_budget_is_recorded_and_never_run_again"
            "[dynamic]",
        ),
    ),
    Mutant(
        name="an-unfinished-set-is-not-waited-for-again",
        breaks="a set whose wait was cut while a member still runs is never waited for again: the next up changes "
        "nothing and finished stays false",
        module="operations.py",
        old='        if news.get("wait_for_completion") and not olds.get("finished", True):\n',
        new="        if False:\n",
        killers=(
            f"{_SECOND}::test_a_set_whose_wait_is_cut_while_a_member_runs_stays_unfinished_and_the_next_up_waits_for_it"
            "[dynamic]",
        ),
    ),
    Mutant(
        name="a-cut-set-wait-says-finished",
        breaks="a set whose wait was cut while a member still runs says finished, so a program gating on it goes on",
        module="operations.py",
        old='            "finished": all(item["error"] or is_terminal(item["lifecycle"]) '
        "for item in executions.values()),\n",
        new='            "finished": True,\n',
        killers=(
            f"{_SECOND}::test_a_set_whose_wait_is_cut_while_a_member_runs_stays_unfinished_and_the_next_up_waits_for_it"
            "[native]",
            STATE_MACHINE,
        ),
    ),
    Mutant(
        name="an-unreadable-cancelled-run-counts-as-stopped",
        breaks="a superseded run whose cancel was accepted but which cannot be read back is taken as stopped: the "
        "member's new run starts beside it, and the set's destroy reports success",
        module="runs.py",
        old="            return isinstance(waited.errors[ref], NotFound)\n",
        new="            return True\n",
        killers=(
            f"{_SECOND}::test_a_superseded_member_whose_cancelled_run_cannot_be_read_back_starts_nothing_and_destroy"
            "_fails[dynamic]",
        ),
    ),
    Mutant(
        name="a-replaced-sets-delete-cancels-the-runs-the-new-set-attached-to",
        breaks="up --replace of a JobExecutionSet created before delete cancels the runs the new set attached to",
        module="operations.py",
        old="            [ref for ref in _recorded_runs(props).values() if not self.connection.adopted(ref.arm_id)],\n",
        new="            list(_recorded_runs(props).values()),\n",
        killers=(f"{_SECOND}::test_a_create_before_delete_replacement_of_a_set_keeps_the_runs_it_attached_to[native]",),
    ),
    Mutant(
        name="a-replacement-delete-cancels-the-run-it-started-under-an-unconfirmed-id",
        breaks="up --replace (create-before-delete) of a JobExecution whose PUT was never confirmed starts its run "
        "under the id the old record names, and the old resource's delete cancels that new run",
        module="operations.py",
        old="                unconfirmed(props) and self.connection.started_here(ref.arm_id, execution)\n",
        new="                False\n",
        killers=(
            f"{_SECOND}::test_a_create_before_delete_replacement_of_an_unconfirmed_record_keeps_the_run_it_starts_under"
            "_that_id[dynamic]",
            STATE_MACHINE,
        ),
    ),
    Mutant(
        name="a-set-replacement-delete-cancels-the-run-it-started-under-an-unconfirmed-id",
        breaks="up --replace (create-before-delete) of a set whose member's PUT was never confirmed starts the "
        "member's run under the id the old set names, and the old set's delete cancels that new run",
        module="operations.py",
        old="                and self.connection.started_here(ref.arm_id, execution)\n            )\n",
        new="                and False\n            )\n",
        killers=(
            f"{_SECOND}::test_a_create_before_delete_replacement_of_a_set_with_an_unconfirmed_member_keeps_the_run_it"
            "_starts[native]",
            STATE_MACHINE,
        ),
    ),
    Mutant(
        name="a-set-delete-cancels-a-later-run-under-a-members-recorded-id",
        breaks="after a member's job was deleted and made again, a create-before-delete replacement of the set "
        "starts the member's run under the id the old set names, and the old set's delete cancels it",
        module="operations.py",
        old="            return not _the_recorded_run(execution, entry) or (\n",
        new="            return False or (\n",
        killers=(
            f"{_SECOND}::test_a_create_before_delete_replacement_of_a_set_after_its_job_was_made_again_keeps_the_new"
            "_run[dynamic]",
            STATE_MACHINE,
        ),
    ),
    Mutant(
        name="the-plan-comment-misses-a-warning-as-json-writes-it",
        breaks="a stale pin's banner 'Will not run on merge' never appears in the plan comment: in preview --json a "
        "warning's message starts with 'warning: '",
        module="pr.py",
        old='    return _SEVERITY_PREFIX.sub("", str(diagnostic.get("message") or "").strip(), count=1)\n',
        new='    return str(diagnostic.get("message") or "").strip()\n',
        killers=(
            f"{_PLAN_COMMENT}::test_a_warning_is_matched_with_the_prefix_the_cli_writes_before_it",
            f"{_PLAN_COMMENT}::test_the_stale_pin_heads_its_resource_with_the_banner_and_the_other_has_none",
        ),
    ),
    Mutant(
        name="the-policy-pack-lets-an-unpinned-run-through",
        breaks="on a stack whose policy requires pins, a run without expected_plan passes the policy pack",
        module="policy/rules.py",
        old="    if is_unknown(run.pin) or (isinstance(run.pin, str) and run.pin.strip()):\n        return None\n",
        new="    return None\n",
        killers=(f"{_POLICY}::test_a_run_without_a_pin_is_named_with_the_field_as_its_language_spells_it",),
    ),
    Mutant(
        name="a-job-id-and-names-of-another-job-both-taken",
        breaks="a JobExecution given a job's ARM id and names of another job runs one of them without a word",
        module="ids.py",
        old="    if clashes:\n",
        new="    if False:\n",
        killers=(
            "tests/engine/test_job_id.py::test_a_bad_or_contradicting_job_id_is_a_check_failure_naming_it_with_no_request",
        ),
    ),
    Mutant(
        name="a-preview-of-a-thousand-databases-shows-a-row-each",
        breaks="with planRows unset, a preview over more than 100 databases publishes a row per database, which the "
        "CLI applies one by one (8x the preview's wall time at 1,000)",
        module="native/views.py",
        old='    return "database" if databases <= DATABASE_ROWS_UP_TO else "server"\n',
        new='    return "database"\n',
        killers=(
            "tests/engine/test_plan_rows.py::test_by_default_rows_are_per_database_up_to_the_threshold_and_per_server_above",
        ),
    ),
)
