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
    report = json.loads(output.read_text())
    groups = {figure["name"].split(".")[0] for figure in report["figures"]}
    assert groups == {"1", "2a", "2b", "2c", "2d", "3a", "3b", "4", "5", "6"}
    assert all({"value", "baseline", "ratio", "goal", "met"} <= figure.keys() for figure in report["figures"])
    requests_figures = {f["name"]: f for f in report["figures"] if f["unit"] == "requests"}
    assert all(figure["met"] for figure in requests_figures.values()), requests_figures
