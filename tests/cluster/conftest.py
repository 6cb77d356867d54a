"""Tests of the cluster profile, run on demand against `invoke up --profile cluster`
(`invoke test --cluster`); CI's default run does not collect them. The integration tests'
fixtures serve here too: `stack` (its servers answer), `service_control`."""

import pytest

from apps.settings import Settings
from apps.stack.paths import PROFILE
from apps.stack.services import ALL
from tests.integration.conftest import service_control, stack  # noqa: F401 - fixtures

# Beside the servers `stack` checks: the cluster's Spark and the applications on it.
ON_THE_CLUSTER = ("spark", "stream", "spark-connect", "api")


@pytest.fixture(scope="session")
def cluster(stack) -> Settings:  # noqa: F811 - the imported fixture, asked for by name
    if not PROFILE.spark_standalone:
        pytest.fail(f"the {PROFILE.name} profile is active: `invoke up --profile cluster` first")
    down = [f"{s.name} ({reason})" for s in ALL
            if s.name in ON_THE_CLUSTER and (reason := s.health(stack).check())]
    if down:
        pytest.fail("the cluster profile is not up: " + "; ".join(down))
    return stack
