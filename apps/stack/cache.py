"""Atomic, version-keyed cache entries.

An entry is built in a temporary folder beside its final place and renamed into place
only when the build finished, so an interrupted download or build never leaves a half
entry that a later run would take as whole. A file lock keeps two `invoke up` runs from
building the same entry at once.
"""

from __future__ import annotations

import fcntl
import shutil
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from apps.stack.paths import cache_dir


@contextmanager
def _locked(lock_path: Path):
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def entry_path(kind: str, key: str, root: Path | None = None) -> Path:
    return (root or cache_dir()) / kind / key


def is_cached(kind: str, key: str, root: Path | None = None) -> bool:
    return entry_path(kind, key, root).is_dir()


def cached(kind: str, key: str, build: Callable[[Path], None], root: Path | None = None) -> Path:
    """The folder `<root>/<kind>/<key>` (root: the per-user cache), calling `build(tmp)`
    to fill it if absent."""
    final = entry_path(kind, key, root)
    if final.is_dir():
        return final
    with _locked(final.parent / f".{key}.lock"):
        if final.is_dir():  # another run built it while we waited
            return final
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
        try:
            build(tmp)
            tmp.chmod(0o755)
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final
