"""Tests of the cluster profile, run on demand against `invoke up --profile cluster`
(`invoke test --cluster`); CI's default run does not collect them."""

import pytest

from apps.settings import Settings, get_settings
from apps.stack.control import ServiceControl
from apps.stack.paths import PROFILE
from apps.stack.services import ALL


@pytest.fixture(scope="session")
def cluster() -> Settings:
    if not PROFILE.spark_standalone:
        pytest.fail(f"the {PROFILE.name} profile is active: `invoke up --profile cluster` first")
    settings = get_settings()
    down = [f"{s.name} ({reason})" for s in ALL if (reason := s.health(settings).check())
            and s.name != "generator"]
    if down:
        pytest.fail("the cluster profile is not up: " + "; ".join(down))
    return settings


@pytest.fixture
def cluster_control(cluster):
    control = ServiceControl(cluster)
    yield control
    control.restore()


@pytest.fixture(scope="session")
def stack(cluster) -> Settings:
    """The name the integration tests' fixtures (golden lake, schema) ask for."""
    return cluster
