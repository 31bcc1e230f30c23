"""The gate as a measure: mutants generated over the core and the client's rules, run against their killers.

The named mutants (:mod:`tests.engine.mutants`) are a fence: each breaks one promise and must die. This command is
the measure beside it: it generates every mutant of a few kinds over the modules where runs are decided
(``runs.py``, ``operations.py``, ``plan.py``, ``planning.py``) and the client's retry and destination rules
(the retry functions of ``client.py``, ``destinations.py``), runs each against the tests of its module (the
gate's own machinery: a copy of the package, the mutant applied, the killers run with the copy first on
``PYTHONPATH``, so both plugins run the mutant), within a time budget, and reports the share killed and each
survivor by place and change. A survivor is either a gap in the tests (add one: docs/reliability.md lists those
found) or an equivalent mutant (the change cannot alter behaviour).

Kinds: an operator flipped (``==``/``!=``, ``<``/``<=``/``>``/``>=``, ``in``/``not in``, ``is``/``is not``,
``and``/``or``, ``+``/``-``), a condition negated (an ``if``/``while``/ternary test, or a ``not`` dropped), a
branch dropped (an ``if`` that is never taken; a ``raise``, ``continue`` or ``break`` that becomes ``pass``), a
constant shifted (an integer ``n`` to ``n + 1``, a float doubled, ``True``/``False`` swapped). Log calls and
docstrings are left alone. Each mutant is written as the gate's :class:`~tests.engine.mutants.Mutant` (a snippet
found exactly once, and its replacement), so it applies and is judged exactly as a named one is.

Usage::

    python -m tests.engine.mutate                       # every mutant; stops starting new ones after --budget
    python -m tests.engine.mutate --list                # what would run, without running it
    python -m tests.engine.mutate --sample 12 --seed ci --modules plan.py,destinations.py --floor 0.9

The CI step runs the sample (a fixed seed, fast killers only, under two minutes); the whole set runs nightly-style
(about seven hours on the two-core machine, most of it in the engine tests that judge ``operations.py`` and
``runs.py``: 46 s a mutant there, 8 s elsewhere).
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.engine import test_mutation_gate
from tests.engine.mutants import Mutant, patched
from tests.engine.test_mutation_gate import PACKAGE, WORKERS, Job, Outcome, run

_UNIT = "tests/unit"
_INTEGRATION = "tests/integration"
_ENGINE = "tests/engine"

SCOPES: dict[str, tuple[str, ...] | None] = {
    "runs.py": None,
    "operations.py": None,
    "plan.py": None,
    "planning.py": None,
    "destinations.py": None,
    "client.py": (
        "_StopPastBudget.__call__",
        "_StopWhenRefused.__call__",
        "is_refused",
        "retry_after_seconds",
        "_ratelimit_exhausted",
        "ElasticJobsClient.request",
        "ElasticJobsClient._retried",
        "ElasticJobsClient._send",
        "ElasticJobsClient._wait",
        "ElasticJobsClient._check_destination",
        "ElasticJobsClient._target",
    ),
}
"""The modules mutated, and in each the functions (``Class.method``) mutated; None: every function of it."""

KILLERS: dict[str, tuple[str, ...]] = {
    "plan.py": (f"{_UNIT}/test_plan.py", f"{_INTEGRATION}/test_plan_reads.py", f"{_ENGINE}/test_plan_guard.py"),
    "planning.py": (
        f"{_UNIT}/test_plan.py",
        f"{_INTEGRATION}/test_plan_reads.py",
        f"{_ENGINE}/test_plan_guard.py",
        f"{_ENGINE}/test_plan_views.py",
    ),
    "destinations.py": (f"{_UNIT}/test_destinations.py", f"{_INTEGRATION}/test_token_routing.py"),
    "client.py": (
        f"{_INTEGRATION}/test_client.py",
        f"{_INTEGRATION}/test_token_routing.py",
        f"{_INTEGRATION}/test_secrets_in_errors.py",
        f"{_INTEGRATION}/test_transport.py",
        f"{_INTEGRATION}/test_transport_rules.py",
    ),
    "runs.py": (
        f"{_ENGINE}/test_exactly_once.py",
        f"{_ENGINE}/test_second_paths.py",
        f"{_ENGINE}/test_set_reliability.py",
        f"{_ENGINE}/test_one_intent_one_run.py",
        f"{_ENGINE}/test_identity_decisions.py",
        f"{_ENGINE}/test_partial_creates.py",
        f"{_ENGINE}/test_plan_guard.py",
    ),
    "operations.py": (
        f"{_UNIT}/test_pure_logic.py",
        f"{_ENGINE}/test_lifecycle.py",
        f"{_ENGINE}/test_exactly_once.py",
        f"{_ENGINE}/test_second_paths.py",
        f"{_ENGINE}/test_set_reliability.py",
        f"{_ENGINE}/test_one_intent_one_run.py",
        f"{_ENGINE}/test_partial_creates.py",
        f"{_ENGINE}/test_native.py",
        f"{_ENGINE}/test_plan_guard.py",
        f"{_ENGINE}/test_engine_values.py",
    ),
}
"""Each module's killers, fastest and likeliest first (a run stops at the first failure). The state machine is
left out: its derandomized profile takes minutes a mutant; the named gate runs it where it is the proof."""
FAST_KILLERS: dict[str, tuple[str, ...]] = {
    module: tuple(killer for killer in killers if not killer.startswith(_ENGINE)) for module, killers in KILLERS.items()
}
"""What the CI sample runs: unit and integration tests only, seconds a mutant."""

_FLIP: dict[type[ast.AST], str] = {
    ast.Eq: "!=",
    ast.NotEq: "==",
    ast.Lt: "<=",
    ast.LtE: "<",
    ast.Gt: ">=",
    ast.GtE: ">",
    ast.In: "not in",
    ast.NotIn: "in",
    ast.Is: "is not",
    ast.IsNot: "is",
}
_BINARY: dict[type[ast.AST], str] = {ast.Add: "-", ast.Sub: "+", ast.Mult: "/", ast.FloorDiv: "*"}


@dataclass(frozen=True)
class Edit:
    """One change on one line: the columns ``start``..``end`` of line ``line`` (1-based) become ``text``."""

    line: int
    start: int
    end: int
    text: str
    kind: str
    where: str


def _qualified(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function of the module with its ``Class.method`` name (nested functions belong to their parent)."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield f"{node.name}.{item.name}", item


def _is_log_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in ("log", "logging", "progress")
    )


def _skipped(function: ast.AST) -> set[int]:
    """Ids of nodes inside log calls, docstrings and annotations: mutating them proves nothing."""
    skipped: set[int] = set()
    for node in ast.walk(function):
        inside: list[ast.AST] = []
        if _is_log_call(node):
            inside.append(node)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and ast.get_docstring(node):
            inside.append(node.body[0])
        if isinstance(node, ast.arg) and node.annotation is not None:
            inside.append(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            inside.append(node.returns)
        if isinstance(node, ast.AnnAssign):
            inside.append(node.annotation)
        for part in inside:
            skipped.update(id(child) for child in ast.walk(part))
    return skipped


def _operator_between(line: str, left_end: int, right_start: int, symbol: str) -> tuple[int, int] | None:
    """The columns of ``symbol`` between two operands on one line, found once."""
    between = line[left_end:right_start]
    words = symbol.split()
    for candidate in (symbol, " ".join(words)):
        index = between.find(f" {candidate} ")
        if index >= 0 and between.count(f" {candidate} ") == 1:
            return left_end + index + 1, left_end + index + 1 + len(candidate)
    return None


def _symbol(op: ast.AST) -> str | None:
    return {
        ast.Eq: "==",
        ast.NotEq: "!=",
        ast.Lt: "<",
        ast.LtE: "<=",
        ast.Gt: ">",
        ast.GtE: ">=",
        ast.In: "in",
        ast.NotIn: "not in",
        ast.Is: "is",
        ast.IsNot: "is not",
        ast.Add: "+",
        ast.Sub: "-",
        ast.Mult: "*",
        ast.FloorDiv: "//",
        ast.And: "and",
        ast.Or: "or",
    }.get(type(op))


def _single_line(node: ast.AST) -> bool:
    return getattr(node, "lineno", None) is not None and node.lineno == getattr(node, "end_lineno", None)


def edits_of(source: str, scope: tuple[str, ...] | None) -> list[Edit]:
    """Every edit of the kinds this command makes, in the functions of ``scope`` (None: all)."""
    tree = ast.parse(source)
    lines = source.splitlines()
    found: list[Edit] = []
    for name, function in _qualified(tree):
        if scope is not None and name not in scope:
            continue
        skipped = _skipped(function)
        for node in ast.walk(function):
            if id(node) in skipped:
                continue
            found.extend(_node_edits(node, lines, name))
    unique: dict[tuple[int, int, int, str], Edit] = {}
    for edit in found:
        unique.setdefault((edit.line, edit.start, edit.end, edit.text), edit)
    return sorted(unique.values(), key=lambda edit: (edit.line, edit.start, edit.text))


def _node_edits(node: ast.AST, lines: list[str], where: str) -> Iterator[Edit]:
    if isinstance(node, ast.Compare) and _single_line(node) and len(node.ops) == 1:
        yield from _flip(node.left, node.comparators[0], node.ops[0], _FLIP, lines, where, "operator flipped")
    elif isinstance(node, ast.BinOp) and _single_line(node):
        yield from _flip(node.left, node.right, node.op, _BINARY, lines, where, "operator flipped")
    elif isinstance(node, ast.BoolOp) and _single_line(node) and len(node.values) == 2:
        other = "or" if isinstance(node.op, ast.And) else "and"
        yield from _flip(node.values[0], node.values[1], node.op, {type(node.op): other}, lines, where, "and/or")
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and _single_line(node):
        line = lines[node.lineno - 1]
        if line[node.col_offset : node.col_offset + 4] == "not ":
            yield Edit(node.lineno, node.col_offset, node.col_offset + 4, "", "condition negated", where)
    elif isinstance(node, ast.If | ast.While | ast.IfExp) and _single_line(node.test):
        test = node.test
        text = lines[test.lineno - 1][test.col_offset : test.end_col_offset]
        yield Edit(test.lineno, test.col_offset, test.end_col_offset or 0, f"not ({text})", "condition negated", where)
        if isinstance(node, ast.If):
            yield Edit(test.lineno, test.col_offset, test.end_col_offset or 0, "False", "branch dropped", where)
    elif isinstance(node, ast.Raise | ast.Continue | ast.Break) and _single_line(node):
        yield Edit(node.lineno, node.col_offset, node.end_col_offset or 0, "pass", "branch dropped", where)
    elif isinstance(node, ast.Constant) and _single_line(node):
        yield from _shifted(node, where)


def _flip(
    left: ast.AST,
    right: ast.AST,
    op: ast.AST,
    table: dict[type[ast.AST], str],
    lines: list[str],
    where: str,
    kind: str,
) -> Iterator[Edit]:
    replacement, symbol = table.get(type(op)), _symbol(op)
    if replacement is None or symbol is None or not (_single_line(left) and _single_line(right)):
        return
    if left.end_lineno != right.lineno:
        return
    span = _operator_between(lines[left.lineno - 1], left.end_col_offset or 0, right.col_offset, symbol)
    if span is not None:
        yield Edit(left.lineno, span[0], span[1], replacement, kind, where)


def _shifted(node: ast.Constant, where: str) -> Iterator[Edit]:
    value, end = node.value, node.end_col_offset or 0
    if isinstance(value, bool):
        yield Edit(node.lineno, node.col_offset, end, str(not value), "constant shifted", where)
    elif isinstance(value, int):
        yield Edit(node.lineno, node.col_offset, end, str(value + 1), "constant shifted", where)
    elif isinstance(value, float) and value:
        yield Edit(node.lineno, node.col_offset, end, repr(value * 2), "constant shifted", where)


def as_mutant(module: str, source: str, edit: Edit, killers: tuple[str, ...]) -> Mutant | None:
    """The edit as a gate mutant: the edited line, with as many following lines as make it unique in the module."""
    lines = source.splitlines(keepends=True)
    index = edit.line - 1
    original = lines[index]
    changed = original[: edit.start] + edit.text + original[edit.end :]
    if changed == original:
        return None
    for extra in range(0, 6):
        old = "".join(lines[index : index + 1 + extra])
        if source.count(old) == 1:
            new = changed + "".join(lines[index + 1 : index + 1 + extra])
            name = (
                f"{module}:{edit.line}:{edit.start} {edit.kind}: {original[edit.start : edit.end]!r} -> {edit.text!r}"
            )
            return Mutant(name, f"generated in {edit.where}", module, old, new, killers)
    return None


def generated(modules: tuple[str, ...], fast: bool = False) -> list[Mutant]:
    """Every generated mutant of ``modules``, in the order of the source."""
    mutants: list[Mutant] = []
    for module in modules:
        source = (PACKAGE / module).read_text(encoding="utf-8")
        killers = (FAST_KILLERS if fast else KILLERS)[module]
        for edit in edits_of(source, SCOPES[module]):
            mutant = as_mutant(module, source, edit, killers)
            if mutant is not None:
                patched(mutant, source)  # applies exactly once, or fails here
                mutants.append(mutant)
    return mutants


@dataclass
class Tally:
    killed: list[tuple[Mutant, Outcome]]
    survived: list[tuple[Mutant, Outcome]]
    bad: list[tuple[Mutant, Outcome]]
    not_run: list[Mutant]
    seconds: float

    @property
    def judged(self) -> int:
        return len(self.killed) + len(self.survived)

    @property
    def share(self) -> float:
        return len(self.killed) / self.judged if self.judged else 1.0

    def report(self) -> str:
        lines = [
            f"generated mutants: {len(self.killed)} killed of {self.judged} judged ({self.share:.1%}); "
            f"{len(self.bad)} bad (do not compile or import, or no verdict), {len(self.not_run)} not run "
            f"(budget); {self.seconds:.0f} s",
        ]
        lines += [f"  SURVIVES {mutant.name} [{mutant.breaks}]" for mutant, _ in self.survived]
        lines += [f"  bad      {mutant.name}: {outcome.bad_patch or 'no verdict'}" for mutant, outcome in self.bad]
        return "\n".join(lines)


def judge_all(mutants: list[Mutant], budget_seconds: float, workers: int = WORKERS) -> Tally:
    """Run each mutant's killers (stopping at the first failure) until the budget is spent; no new mutant starts
    after that. A mutant is killed when a killer fails; one that errors, does not apply or outlasts the gate's
    limit is bad, and counted apart."""
    began = time.monotonic()
    tally = Tally([], [], [], [], 0.0)

    def one(mutant: Mutant, scratch: Path) -> tuple[Mutant, Outcome | None]:
        if time.monotonic() - began > budget_seconds:
            return mutant, None
        return mutant, run(Job(mutant.name, mutant.killers, mutant), scratch)

    with tempfile.TemporaryDirectory(prefix="mutate-") as scratch, ThreadPoolExecutor(workers) as pool:
        for mutant, outcome in pool.map(lambda m: one(m, Path(scratch)), mutants):
            if outcome is None:
                tally.not_run.append(mutant)
                verdict = "not run"
            elif outcome.bad_patch is not None or outcome.timed_out or outcome.errors:
                tally.bad.append((mutant, outcome))
                verdict = "bad"
            elif outcome.failed:
                tally.killed.append((mutant, outcome))
                verdict = "killed"
            else:
                tally.survived.append((mutant, outcome))
                verdict = "survives"
            print(f"{verdict}: {mutant.name}", flush=True)
    tally.seconds = time.monotonic() - began
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.engine.mutate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", default=",".join(SCOPES), help="modules to mutate, comma-separated")
    parser.add_argument("--sample", type=int, default=0, help="run this many mutants, drawn with --seed (0: all)")
    parser.add_argument("--seed", default="nightly", help="the draw of --sample (a fixed seed: the same sample)")
    parser.add_argument("--budget", type=float, default=7200.0, help="seconds after which no new mutant starts")
    parser.add_argument("--fast", action="store_true", help="unit and integration killers only (the CI sample)")
    parser.add_argument("--limit", type=float, default=300.0, help="seconds one mutant's run may take (then: bad)")
    parser.add_argument("--floor", type=float, default=0.0, help="exit 1 when the killed share is below this")
    parser.add_argument("--list", action="store_true", help="print the mutants and their killers, run nothing")
    parser.add_argument("--survivors-of", type=Path, help="run only the survivors a --json result lists")
    parser.add_argument("--with-not-run", action="store_true", help="with --survivors-of: and those it did not run")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    modules = tuple(module.strip() for module in args.modules.split(",") if module.strip())
    unknown = [module for module in modules if module not in SCOPES]
    if unknown:
        parser.error(f"no such module in scope: {unknown}; choose among {', '.join(SCOPES)}")
    mutants = generated(modules, fast=args.fast)
    if args.survivors_of:
        earlier = json.loads(args.survivors_of.read_text(encoding="utf-8"))
        survived = set(earlier["survived"]) | (set(earlier["not_run"]) if args.with_not_run else set())
        mutants = [mutant for mutant in mutants if mutant.name in survived]
    if args.sample:
        mutants = random.Random(args.seed).sample(mutants, min(args.sample, len(mutants)))
    if args.list:
        for mutant in mutants:
            print(f"{mutant.name}  ({mutant.breaks}; killers: {len(mutant.killers)})")
        print(f"{len(mutants)} mutants")
        return 0
    test_mutation_gate.RUN_LIMIT_SECONDS = args.limit  # a mutant that loops forever is stopped, and counted bad
    tally = judge_all(mutants, args.budget)
    print(tally.report())
    if args.json:
        result = {
            "modules": list(modules),
            "killed": [m.name for m, _ in tally.killed],
            "survived": [m.name for m, _ in tally.survived],
            "bad": [m.name for m, _ in tally.bad],
            "not_run": [m.name for m in tally.not_run],
            "share": tally.share,
            "seconds": tally.seconds,
        }
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0 if tally.share >= args.floor else 1


if __name__ == "__main__":
    sys.exit(main())
