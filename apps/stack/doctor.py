"""`invoke doctor`: what this machine has and lacks for the stack, and how to get it."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from apps.stack.paths import REPO_ROOT


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str
    fix: str = ""


def _version(argv: list[str]) -> str | None:
    if not shutil.which(argv[0]):
        return None
    proc = subprocess.run(argv, capture_output=True, text=True)
    return (proc.stdout + proc.stderr).strip()


def java_major(version_output: str) -> int | None:
    """17 from `openjdk version "17.0.15" ...` (and 8 from `"1.8.0_..."`)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def go_minor(version_output: str) -> tuple[int, int] | None:
    match = re.search(r"go(\d+)\.(\d+)", version_output)
    return (int(match.group(1)), int(match.group(2))) if match else None


def check_java() -> Finding:
    out = _version(["java", "-version"])
    major = java_major(out) if out else None
    fix = "install a Java 17+ runtime, e.g. `apt-get install openjdk-17-jre-headless`"
    if major is None:
        return Finding("Java", False, "java not found on PATH", fix)
    return Finding("Java", major >= 17, f"Java {major}", "" if major >= 17 else fix)


def check_go() -> Finding:
    out = _version(["go", "version"])
    version = go_minor(out) if out else None
    fix = "install Go 1.26+ (https://go.dev/doc/install) and put `go` on PATH"
    if version is None:
        return Finding("Go", False, "go not found on PATH (builds FerretDB and SeaweedFS)", fix)
    ok = version >= (1, 26)
    return Finding("Go", ok, f"Go {version[0]}.{version[1]}", "" if ok else fix)


def check_tool(name: str, purpose: str, fix: str) -> Finding:
    found = shutil.which(name)
    return Finding(name, bool(found), found or f"not found ({purpose})", "" if found else fix)


def check_disk(min_free_gb: float = 6.0) -> Finding:
    free = shutil.disk_usage(REPO_ROOT).free / 2**30
    ok = free >= min_free_gb
    return Finding("Disk", ok, f"{free:.1f} GiB free",
                   "" if ok else f"free at least {min_free_gb:.0f} GiB (artifacts take about 4 GiB)")


def prerequisites(building: bool) -> list[Finding]:
    """What running needs, and with `building` what provisioning needs too (Go and Maven
    build FerretDB, SeaweedFS and fetch the jars once; a provisioned stack runs without)."""
    findings = [
        check_tool("uv", "installs Python environments", "`python3 -m pip install uv`"),
        check_java(),
        check_disk(),
    ]
    if building:
        findings += [
            check_go(),
            check_tool("mvn", "resolves Kafka and Spark jars from Maven Central",
                       "install Maven, e.g. `apt-get install maven`"),
        ]
    return findings
