"""The Performance table of docs/performance.md, rendered from ``benchmarks/results.json``.

``python -m benchmarks`` rewrites the table after a full run; ``python -m benchmarks.table`` rewrites it from the
results file as it stands. Only the lines between the two markers are generated, so the page's explanation of
each figure stays written by hand, and ``tests/unit/test_docs.py`` fails when the table and the results differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.json"
PAGE = ROOT / "docs" / "performance.md"
START = "<!-- figures: generated from benchmarks/results.json by `python -m benchmarks.table` -->"
END = "<!-- /figures -->"


def number(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def row(figure: dict[str, Any]) -> str:
    baseline = number(figure["baseline"])
    if figure["baseline"] is not None and figure["baseline_kind"] in ("floor", "limit"):
        baseline += f" ({figure['baseline_kind']})"
    verdict = {None: "no goal", True: "met", False: "**missed**"}[figure["met"]]
    cells = [
        figure["name"],
        f"{figure['value']:.2f} {figure['unit']}",
        baseline,
        number(figure["ratio"]),
        figure["goal"] or "—",
        verdict,
    ]
    return "| " + " | ".join(cells) + " |"


def markdown(report: dict[str, Any]) -> str:
    """The generated block: the run it comes from, then one row per figure."""
    kind = "quick smoke run" if report["quick"] else "full run"
    lines = [
        f"Latest {kind}: {report['machine']}, {report['seconds']:.0f} s.",
        "",
        "| figure | value | baseline | ratio | goal | verdict |",
        "|---|---|---|---|---|---|",
        *(row(figure) for figure in report["figures"]),
    ]
    return "\n".join(lines)


def generated_block(page_text: str) -> str:
    """What stands between the markers on the page now."""
    return page_text.split(START + "\n", 1)[1].split("\n" + END, 1)[0]


def update(page: Path = PAGE, results: Path = RESULTS) -> None:
    text = page.read_text()
    old = generated_block(text)
    report = json.loads(results.read_text())
    page.write_text(text.replace(START + "\n" + old + "\n" + END, START + "\n" + markdown(report) + "\n" + END, 1))


if __name__ == "__main__":
    update()
    print(f"wrote the table of {PAGE.relative_to(ROOT)} from {RESULTS.relative_to(ROOT)}")
