"""The benchmark suite's quick run still works end to end (it is not a timing test: figures are not judged)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_quick_benchmark_run_writes_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    finished = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    report = json.loads(output.read_text(), parse_constant=reject_non_json)
    groups = {figure["name"].split(".")[0] for figure in report["figures"]}
    tools = ROOT / ".tools" / "bin"
    cli = {"7a", "7b", "7c"} if (tools / "pulumi").exists() else set()
    yaml = (tools / "pulumi").exists() and (tools / "pulumi-language-yaml").exists()
    native = {"8a", "8b", "8d", "8f", "9d"} if yaml else set()
    everywhere = {
        "1",
        "2a",
        "2b",
        "2c",
        "2d",
        "2e",
        "3a",
        "3b",
        "4",
        "5",
        "5b",
        "5c",
        "6",
        "8c",
        "8e",
        "9a",
        "9b",
        "9c",
        "9e",
        "10",
    }
    assert groups == {*everywhere, *cli, *native}
    for figure in report["figures"]:
        assert {"value", "baseline", "baseline_kind", "ratio", "goal", "met"} <= figure.keys()
        assert (figure["goal"] is None) == (figure["met"] is None), figure  # no verdict without a goal
        assert figure["baseline_kind"] in ("measured", "floor", "limit", "none"), figure
    requests_figures = {f["name"]: f for f in report["figures"] if f["unit"] == "requests"}
    assert all(f["met"] and f["baseline_kind"] == "floor" for f in requests_figures.values()), requests_figures


def reject_non_json(constant: str) -> None:
    raise AssertionError(f"results.json holds {constant}, which is not JSON")
