"""elastic-jobs-install-plugin without the CLI: what the launcher runs, and the errors a person sees."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pulumi_azure_elastic_jobs.native.install import launcher, main


def test_launcher_runs_the_server_with_the_engine_arguments_even_with_spaces_and_quotes(tmp_path: Path) -> None:
    script = tmp_path / "pulumi-resource-azure-elastic-jobs"
    script.write_text(launcher(["/bin/echo", "it's a", "server"]))
    script.chmod(0o755)
    assert subprocess.run([script, "127.0.0.1:1234"], capture_output=True, text=True).stdout == (
        "it's a server 127.0.0.1:1234\n"
    )


def test_install_without_a_server_says_where_it_looked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--pulumi", "/bin/false", "--server", str(tmp_path / "elastic-jobs-provider")]) == 1
    assert f"no provider server at {tmp_path / 'elastic-jobs-provider'}" in capsys.readouterr().err


def test_install_says_when_the_cli_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = tmp_path / "elastic-jobs-provider"
    server.touch()
    assert main(["--pulumi", "/bin/false", "--server", str(server)]) == 1
    assert "pulumi plugin install failed (1)" in capsys.readouterr().err
