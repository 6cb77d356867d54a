"""Switching default -> cluster -> default, data kept: each profile resumes where it stopped
and nothing is doubled. It restarts the stack: run it on its own, last
(`invoke test --cluster -k switch`), from the cluster profile, generator skipped."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from apps.settings import REPO_ROOT

E2E_SECONDS = "20"


def in_profile(profile: str, *argv: str, timeout: float = 1800) -> str:
    """A command as a user types it, in `profile`; its output."""
    done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "STACK_PROFILE": profile})
    assert done.returncode == 0, f"{' '.join(argv)} ({profile}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def invoke(profile: str, *args: str) -> str:
    return in_profile(profile, sys.executable, "-m", "invoke", *args)


def lake_state(profile: str) -> dict:
    """The profile's PurchasedItem and raw table once the stream has caught up."""
    return json.loads(in_profile(profile, sys.executable,
                                 str(REPO_ROOT / "tests" / "cluster" / "lake_state.py")))


def switch_to(profile: str) -> None:
    invoke(profile, "down")
    invoke(profile, "up", "--profile", profile, "--skip", "generator")


def test_each_profile_resumes_where_it_stopped_and_nothing_is_doubled(cluster):
    before = {"cluster": lake_state("cluster")}
    switch_to("default")
    before["default"] = lake_state("default")
    assert before["default"]["topic_id"] != before["cluster"]["topic_id"]  # its own Kafka
    assert "every row holds" in invoke("default", "e2e", "--seconds", E2E_SECONDS)
    after = {"default": lake_state("default")}
    switch_to("cluster")
    assert "every row holds" in invoke("cluster", "e2e", "--seconds", E2E_SECONDS)
    after["cluster"] = lake_state("cluster")
    for profile in ("default", "cluster"):
        old, new = before[profile], after[profile]
        assert new["topic_id"] == old["topic_id"]
        sent = sum(new["ends"].values()) - sum(old["ends"].values())
        assert sent > 0
        # Every record the profile's Kafka took since is one row, none read again, and
        # nothing of the other profile's records came in.
        assert new["rows"] - old["rows"] == sent, (profile, old, new)
        assert new["version"] > old["version"]
