"""Provisioners: each turns a pinned version into a cached folder (see `cache.py`).

Only package registries are used: Maven Central through `mvn`, the Go module proxy
through `go install`, PyPI through `uv`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from apps.stack import cache
from apps.stack.spec import StackError
from apps.stack.tools import run_tool


class ProvisionError(StackError):
    """A build or download failed; the message carries the tool's last output lines."""


def _run(argv: list[str], *, what: str, env: dict[str, str] | None = None,
         cwd: Path | None = None) -> None:
    run_tool(argv, what=what, env=env, cwd=cwd, error=ProvisionError)


@dataclass(frozen=True)
class MavenJars:
    """A set of Maven artifacts with their runtime dependencies, as a folder of jars."""

    name: str
    coordinates: tuple[str, ...]  # group:artifact:version

    @property
    def key(self) -> str:
        digest = hashlib.sha256("\n".join(self.coordinates).encode()).hexdigest()[:12]
        return f"{self.name}-{digest}"

    def pom(self) -> str:
        deps = "\n".join(
            "    <dependency><groupId>{}</groupId><artifactId>{}</artifactId>"
            "<version>{}</version></dependency>".format(*map(escape, c.split(":")))
            for c in self.coordinates
        )
        return (
            '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
            "  <modelVersion>4.0.0</modelVersion>\n"
            f"  <groupId>shopstream</groupId><artifactId>{escape(self.name)}</artifactId>"
            "<version>1</version>\n"
            f"  <dependencies>\n{deps}\n  </dependencies>\n</project>\n"
        )

    def is_cached(self) -> bool:
        return cache.is_cached("maven", self.key)

    def path(self) -> Path:
        return cache.entry_path("maven", self.key)

    def provision(self) -> Path:
        def build(tmp: Path) -> None:
            work = tmp / ".pom"
            work.mkdir()
            (work / "pom.xml").write_text(self.pom())
            _run(
                ["mvn", "-q", "-B", "dependency:copy-dependencies", "-DincludeScope=runtime",
                 f"-DoutputDirectory={tmp}"],
                cwd=work, what=f"mvn resolving {', '.join(self.coordinates)}",
            )
            (work / "pom.xml").unlink()
            work.rmdir()

        return cache.cached("maven", self.key, build)


@dataclass(frozen=True)
class GoBinary:
    """One binary built from a module fetched through the Go module proxy.

    `go install module/cmd@version` refuses modules whose go.mod has replace directives
    (SeaweedFS) and skips the version file FerretDB's build step writes, so the module's
    source is downloaded with `go mod download`, copied, completed with `extra_files`, and
    built as the main module.
    """

    module: str  # e.g. github.com/FerretDB/FerretDB
    version: str
    package: str  # the main package inside the module, e.g. ./cmd/ferretdb
    extra_files: tuple[tuple[str, str], ...] = ()  # (path in the module, content)

    @property
    def binary(self) -> str:
        return self.package.rstrip("/").rsplit("/", 1)[-1]

    @property
    def key(self) -> str:
        return f"{self.binary}-{self.version}"

    def is_cached(self) -> bool:
        return cache.is_cached("go", self.key)

    def path(self) -> Path:
        return cache.entry_path("go", self.key) / self.binary

    def provision(self) -> Path:
        def build(tmp: Path) -> None:
            download = subprocess.run(
                ["go", "mod", "download", "-json", f"{self.module}@{self.version}"],
                capture_output=True, text=True,
            )
            if download.returncode != 0:
                raise ProvisionError(f"go mod download {self.module}@{self.version} failed:\n"
                                     f"{download.stdout}{download.stderr}")
            source = tmp / "src"
            shutil.copytree(json.loads(download.stdout)["Dir"], source)
            for path in source.rglob("*"):  # the module cache is read-only
                path.chmod(path.stat().st_mode | 0o200)
            for relative, content in self.extra_files:
                (source / relative).write_text(content)
            _run(["go", "build", "-buildvcs=false", "-trimpath", "-o", str(tmp / self.binary),
                  self.package],
                 cwd=source, env={"CGO_ENABLED": "0"},
                 what=f"go build {self.module}@{self.version} {self.package}")
            shutil.rmtree(source)

        return cache.cached("go", self.key, build) / self.binary


@dataclass(frozen=True)
class PythonVenv:
    """A relocatable virtual environment installed from a lock file (uv pip compile)."""

    name: str
    lockfile: Path

    @property
    def key(self) -> str:
        digest = hashlib.sha256(self.lockfile.read_bytes()).hexdigest()[:12]
        return f"{self.name}-{digest}"

    def is_cached(self) -> bool:
        return cache.is_cached("venv", self.key)

    def bin(self) -> Path:
        return cache.entry_path("venv", self.key) / "bin"

    def provision(self) -> Path:
        def build(tmp: Path) -> None:
            _run(["uv", "venv", "-q", "--relocatable", "--python", "3.11", str(tmp)],
                 what=f"creating the {self.name} virtual environment")
            _run(["uv", "pip", "install", "-q", "--python", str(tmp / "bin" / "python"),
                  "-r", str(self.lockfile)],
                 what=f"installing {self.lockfile.name} into the {self.name} environment")

        return cache.cached("venv", self.key, build) / "bin"
