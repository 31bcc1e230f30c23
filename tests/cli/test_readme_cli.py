"""The by-hand CLI section of docs/development.md (linked from the README), pasted into bash as it stands, at the
repository root."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.cli.conftest import MARKER, kill_everything_marked
from tests.conftest import ROOT


def by_hand_block() -> str:
    page = (ROOT / "docs" / "development.md").read_text()
    section = page[page.index("## By hand, from a fresh clone") :]
    found = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert found is not None, "the by-hand section has no bash block"
    return found.group(1)


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_readme_by_hand_section_works_verbatim(pulumi_cli: str, tmp_path: Path) -> None:
    block = by_hand_block()
    port = int(re.search(r"--port (\d+)", block).group(1))  # type: ignore[union-attr]
    if (ROOT / "Pulumi.dev.yaml").exists() or port_in_use(port):
        pytest.skip(f"a 'dev' stack config or a server on port {port} exists here; the block would disturb it")
    marker = uuid.uuid4().hex
    env = {**os.environ, "PULUMI_HOME": str(tmp_path / ".pulumi-home"), MARKER: marker}
    env.pop("PULUMI_BACKEND_URL", None)
    try:
        ran = subprocess.run(
            ["bash", "-e", "-c", block], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False
        )
    finally:
        kill_everything_marked(marker)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert ran.stdout.count('lifecycle   : "Succeeded"') == 2  # the first run, then the trigger's new run
    assert "+-1 to replace" in ran.stdout
    assert "Resources:\n    - 2 deleted" in ran.stdout
    assert not (ROOT / "Pulumi.dev.yaml").exists()
