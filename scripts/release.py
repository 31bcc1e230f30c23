"""Build every release artefact of one version into ``dist/``, with a SHA256SUMS file (run by scripts/release.sh).

What users install, each the way its registry or tool expects it:

- ``python/``: a wheel and an sdist of every Python distribution in the repository (``python -m build``), listed in
  ``PYTHON_DISTRIBUTIONS``: the provider (the dynamic provider and the plugin's code), the generated Python SDK
  and the local emulator (``elastic-jobs-emulator``);
- ``pulumi-resource-azure-elastic-jobs-v<version>-<os>-<arch>.tar.gz``: the plugin, as Python source with its
  ``PulumiPlugin.yaml``, for ``pulumi plugin install resource azure-elastic-jobs <version> --file <tarball>`` (or a
  ``--server`` that serves these names): the CLI unpacks it into the plugin cache and the Python language host makes
  its virtualenv there. The source is the same on every platform, so each platform's name holds the same bytes;
- ``nodejs/``: ``npm pack`` of the TypeScript SDK (it compiles itself with ``tsc`` when installed);
- ``go/``: the Go SDK as a module proxy serves it (``<module>/@v/list``, ``.info``, ``.mod``, ``.zip``), ready to be
  served with ``GOPROXY=file://.../dist/go`` or pushed as the tag ``<module folder>/v<version>``.

``--plugin-download-url URL`` (where the plugin tarballs will be served) builds the SDK artefacts from SDKs
generated with the schema's ``pluginDownloadURL`` set to it: a program that installs them gets the plugin from
there by itself (``pulumi install``, ``pulumi up``), with no ``pulumi plugin install``.

Every artefact carries the one version in ``pyproject.toml``; the script refuses to build when an SDK or the schema
says another.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = "azure-elastic-jobs"
# Every folder whose pyproject.toml builds a distribution that ships, relative to the repository: the provider,
# the generated Python SDK, the emulator. A new distribution is one more entry here, whose version must be the
# release's; tests/cli/test_release_cli.py reads this list.
PYTHON_DISTRIBUTIONS = (".", "sdk/python", "emulator")
# The plugin tarball: the plugin folder's own files, then the package's tracked sources.
PLUGIN_FILES = ("PulumiPlugin.yaml", "pyproject.toml", "README.md", "provider")
PLATFORMS = ("linux-amd64", "linux-arm64", "darwin-amd64", "darwin-arm64")
GO_SDK = ROOT / "sdk" / "go"


class ReleaseError(Exception):
    """The release cannot be built as asked; the message says what disagrees or failed."""


def project_version() -> str:
    """The release's version: the provider distribution's, which every other artefact must carry."""
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def declared_versions() -> dict[str, str]:
    """Every place outside pyproject.toml that states the version, and what it says."""
    package = json.loads((ROOT / "sdk" / "nodejs" / "package.json").read_text())
    plugin_files = [
        ROOT / "sdk" / "python" / "pulumi_azure_elastic_jobs_sdk" / "pulumi-plugin.json",
        GO_SDK / "azureelasticjobs" / "pulumi-plugin.json",
    ]
    found = {
        f"{folder}/pyproject.toml": str(
            tomllib.loads((ROOT / folder / "pyproject.toml").read_text())["project"]["version"]
        )
        for folder in PYTHON_DISTRIBUTIONS
        if folder != "."
    }
    found |= {
        "sdk/nodejs/package.json": str(package["version"]),
        "sdk/nodejs/package.json pulumi.version": str(package["pulumi"]["version"]),
    }
    found |= {str(path.relative_to(ROOT)): str(json.loads(path.read_text())["version"]) for path in plugin_files}
    from pulumi_azure_elastic_jobs.native.schema import schema

    found["the plugin's schema"] = str(schema()["version"])
    return found


def check_versions(version: str) -> None:
    """Refuse a release whose artefacts would disagree on their version (regenerate sdk/ after a bump)."""
    wrong = {place: said for place, said in declared_versions().items() if said != version}
    if wrong:
        raise ReleaseError(f"pyproject.toml says {version}, but {wrong}: run scripts/gen-sdk.sh after a version bump")


def tracked_files(paths: Iterable[str]) -> list[Path]:
    """The files git tracks under ``paths``, sorted: a release holds what a clone holds, nothing local."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", *paths], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return sorted(ROOT / name for name in listed.split("\0") if name and (ROOT / name).is_file())


def source_time() -> int:
    """The timestamp every archive entry carries: ``SOURCE_DATE_EPOCH``, else the last commit's, so that a
    release built twice from one commit is the same bytes."""
    if "SOURCE_DATE_EPOCH" in os.environ:
        return int(os.environ["SOURCE_DATE_EPOCH"])
    printed = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True, text=True, check=True)
    return int(printed.stdout.strip() or 0)


def exported(folder: str, into: Path) -> Path:
    """The tracked files of ``folder`` copied under ``into``: a distribution is built from what a clone holds,
    never from a working tree's leftovers (setuptools reuses an in-tree ``build/``, which keeps deleted modules)."""
    for path in tracked_files([folder]):
        target = into / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return into / folder


def build_python(dist: Path, sources: Path) -> list[Path]:
    """A wheel and an sdist of each distribution in ``PYTHON_DISTRIBUTIONS``, from the staged ``sources``."""
    out = dist / "python"
    for folder in PYTHON_DISTRIBUTIONS:
        source = sources / folder
        command = [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(source)]
        built = subprocess.run(command, cwd=source, capture_output=True, text=True, check=False)
        if built.returncode != 0:  # build's own output is long; shown only when it failed
            raise ReleaseError(f"python -m build {folder} failed:\n{built.stdout}{built.stderr}")
    return sorted(out.iterdir())


def staged(into: Path, plugin_download_url: str) -> Path:
    """The release's sources under ``into``: the tracked files (``exported``), and with a plugin download URL the
    SDKs generated again from the schema with that ``pluginDownloadURL``, which each SDK then carries (its
    ``pulumi-plugin.json``, or ``package.json``'s ``pulumi.server``) so that programs using it get the plugin
    from there by themselves, with no ``pulumi plugin install``."""
    exported(".", into)
    if plugin_download_url:
        regenerate_sdks(into / "sdk", plugin_download_url)
    return into


def regenerate_sdks(sdk: Path, plugin_download_url: str) -> None:
    """sdk/nodejs, sdk/go and sdk/python generated into ``sdk`` as scripts/gen-sdk.sh generates them, from the
    schema with ``pluginDownloadURL`` set."""
    from pulumi_azure_elastic_jobs.native.schema import schema

    schema_file = sdk.parent / "schema-with-download-url.json"
    schema_file.write_text(json.dumps({**schema(), "pluginDownloadURL": plugin_download_url}, indent=2))
    go_env = {**os.environ, "GOFLAGS": "-mod=mod -buildvcs=false", "GOTOOLCHAIN": "local"}
    sdkgen = ROOT / ".tools" / "sdkgen"
    if not os.access(sdkgen, os.X_OK):
        subprocess.run(["go", "build", "-o", str(sdkgen), "."], cwd=ROOT / "scripts" / "sdkgen", env=go_env, check=True)
    subprocess.run([str(sdkgen), "-schema", str(schema_file), "-out", str(sdk)], check=True)
    subprocess.run(["go", "mod", "tidy"], cwd=sdk / "go", env=go_env, check=True, capture_output=True)


def plugin_tarball(when: int) -> bytes:
    """The plugin folder as a gzipped tar: ``PulumiPlugin.yaml`` and the package's sources at its top level."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=when) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in tracked_files(PLUGIN_FILES):
            entry = tar.gettarinfo(str(path), arcname=str(path.relative_to(ROOT)))
            entry.mtime, entry.uid, entry.gid, entry.uname, entry.gname = when, 0, 0, "", ""
            entry.mode = 0o644
            with path.open("rb") as content:
                tar.addfile(entry, content)
    return buffer.getvalue()


def build_plugin(dist: Path, version: str) -> list[Path]:
    """``pulumi-resource-azure-elastic-jobs-v<version>-<os>-<arch>.tar.gz`` for every platform in ``PLATFORMS``."""
    tarball = plugin_tarball(source_time())
    written = []
    for platform in PLATFORMS:
        target = dist / f"pulumi-resource-{PLUGIN}-v{version}-{platform}.tar.gz"
        target.write_bytes(tarball)
        written.append(target)
    return written


def build_npm(dist: Path, sources: Path) -> list[Path]:
    """``npm pack`` of the staged sdk/nodejs (a copy: nothing npm leaves behind lands in the repository)."""
    out = dist / "nodejs"
    out.mkdir(parents=True, exist_ok=True)
    npm = shutil.which("npm")
    if npm is None:
        raise ReleaseError("npm is not on PATH: cannot pack the TypeScript SDK")
    subprocess.run(
        [npm, "pack", "--silent", "--pack-destination", str(out), str(sources / "sdk" / "nodejs")],
        cwd=out,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return sorted(out.iterdir())


def go_module_path() -> str:
    for line in (GO_SDK / "go.mod").read_text().splitlines():
        if line.startswith("module "):
            return line.split()[1]
    raise ReleaseError("sdk/go/go.mod names no module")


def build_go(dist: Path, version: str, sources: Path) -> list[Path]:
    """The Go SDK in a module proxy's layout: ``list``, ``v<version>.info``, ``.mod`` and ``.zip``, the zip's
    entries under ``<module>@v<version>/`` as ``go mod download`` expects them."""
    module, tag = go_module_path(), f"v{version}"
    folder = dist / "go" / module.lower() / "@v"  # module paths have no upper case here; the proxy would escape it
    folder.mkdir(parents=True, exist_ok=True)
    when = source_time()
    stamp = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    (folder / "list").write_text(f"{tag}\n")
    (folder / f"{tag}.info").write_text(json.dumps({"Version": tag, "Time": stamp}) + "\n")
    go_sdk = sources / "sdk" / "go"
    shutil.copy(go_sdk / "go.mod", folder / f"{tag}.mod")
    date = datetime.fromtimestamp(max(when, 315532800), UTC).timetuple()[:6]  # zip cannot say before 1980
    with zipfile.ZipFile(folder / f"{tag}.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in go_sdk.rglob("*") if p.is_file()):
            entry = zipfile.ZipInfo(f"{module}@{tag}/{path.relative_to(go_sdk)}", date_time=date)
            archive.writestr(entry, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return sorted(folder.iterdir())


def write_checksums(dist: Path) -> Path:
    """``SHA256SUMS`` of every artefact, in ``sha256sum -c``'s format, paths relative to ``dist``."""
    lines = []
    for path in sorted(p for p in dist.rglob("*") if p.is_file() and p.name != "SHA256SUMS"):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{digest}  {path.relative_to(dist)}\n")
    target = dist / "SHA256SUMS"
    target.write_text("".join(lines))
    return target


def release(dist: Path, plugin_download_url: str = "") -> list[Path]:
    """Every artefact of this version, into an emptied ``dist``; the files written, checksums last. With
    ``plugin_download_url`` (where the plugin tarballs will be served), the SDKs carry it."""
    version = project_version()
    check_versions(version)
    if dist.exists():
        shutil.rmtree(dist)
    dist.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="release-") as scratch:
        sources = staged(Path(scratch), plugin_download_url)
        written = [
            *build_python(dist, sources),
            *build_plugin(dist, version),
            *build_npm(dist, sources),
            *build_go(dist, version, sources),
        ]
    return [*written, write_checksums(dist)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/release.sh", description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="where to write (emptied first)")
    parser.add_argument(
        "--plugin-download-url",
        default="",
        help="where the plugin tarballs will be served (a URL the CLI's --server takes, or github://...): "
        "the SDKs carry it, so programs using them get the plugin by themselves",
    )
    args = parser.parse_args(argv)
    try:
        written = release(args.dist.resolve(), args.plugin_download_url)
    except (ReleaseError, subprocess.CalledProcessError) as error:
        print(f"release: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(path.relative_to(args.dist.resolve()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
