"""Lake maintenance's pure parts."""

import argparse
from datetime import timedelta

import pytest

from apps.lake.maintenance import lake_root, retention_hours


def test_the_grace_is_never_shortened_to_delta_rs_whole_hours():
    assert retention_hours(timedelta(0)) == 0
    assert retention_hours(timedelta(minutes=30)) == 1  # rounded down it would be none
    assert retention_hours(timedelta(hours=2)) == 2
    assert retention_hours(timedelta(hours=2, seconds=1)) == 3


def test_a_root_is_the_pipelines_lake_or_a_relative_prefix_ending_in_a_slash():
    assert lake_root("") == ""
    assert lake_root("tests/maint-1/") == "tests/maint-1/"
    for wrong in ("tests/maint-1", "/tests/maint-1/", "raw"):
        with pytest.raises(argparse.ArgumentTypeError):
            lake_root(wrong)
