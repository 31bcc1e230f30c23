"""scripts/release.py without building anything: the one version every artefact must carry, and the archives'
rules (what the plugin tarball holds, where the Go module's files go)."""

from __future__ import annotations

import sys
import tarfile
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import release


def test_the_repository_states_one_version_everywhere() -> None:
    version = release.project_version()
    assert set(release.declared_versions().values()) == {version}
    release.check_versions(version)


def test_a_release_whose_sdk_states_another_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(release, "declared_versions", lambda: {"sdk/nodejs/package.json": "0.0.9"})
    with pytest.raises(release.ReleaseError, match=r"0\.1\.0.*sdk/nodejs/package\.json.*0\.0\.9"):
        release.check_versions("0.1.0")


def test_the_plugin_tarball_holds_the_plugin_folder_at_its_top_and_is_the_same_bytes_twice() -> None:
    first, second = release.plugin_tarball(0), release.plugin_tarball(0)
    assert first == second
    with tarfile.open(fileobj=BytesIO(first)) as tar:
        names = tar.getnames()
    assert names[0] == "PulumiPlugin.yaml" and "pyproject.toml" in names
    assert all(n in ("PulumiPlugin.yaml", "pyproject.toml", "README.md") or n.startswith("provider/") for n in names)


def test_the_go_module_zip_puts_every_file_under_module_at_version(tmp_path: Path) -> None:
    written = release.build_go(tmp_path, "0.1.0", ROOT)
    archive = next(p for p in written if p.suffix == ".zip")
    with zipfile.ZipFile(archive) as files:
        names = files.namelist()
    prefix = "github.com/pulumi-azure-elastic-jobs/sdk/go@v0.1.0/"
    assert all(n.startswith(prefix) for n in names) and prefix + "go.mod" in names
    assert (archive.parent / "list").read_text() == "v0.1.0\n"
