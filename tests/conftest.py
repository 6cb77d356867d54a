import pytest

from apps import profiles
from apps.settings import ENV_FILE, Settings, get_settings
from apps.stack.envfile import TEMPLATE, fill_secrets


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Settings from the template (fresh secrets), independent of the repo's .env, with the
    active profile's endpoints, as every process gets them (apps/profiles.py)."""
    env = tmp_path / ".env"
    env.write_text(fill_secrets(TEMPLATE.read_text()))
    return Settings(_env_file=env, **profiles.settings_overrides(profiles.active()))


@pytest.fixture(scope="session")
def spark_settings(tmp_path_factory) -> Settings:
    """The settings the test run's SparkSession is made with: the stack's when it has a
    `.env`. A test that asks for the session again (getOrCreate) passes these, so the S3
    keys it sets are the stack's."""
    if ENV_FILE.exists():
        return get_settings()
    env = tmp_path_factory.mktemp("spark") / ".env"
    env.write_text(fill_secrets(TEMPLATE.read_text()))
    return Settings(_env_file=env)


@pytest.fixture(scope="session")
def spark(spark_settings):
    """The test run's one SparkSession: `local[1]`, beside the stack's own streaming job.

    Unit tests of DataFrame functions and integration tests share it (a second session
    would cost a JVM's start-up and memory). It reaches Kafka and the S3 store when the
    stack's `.env` and the connector jars exist; otherwise it serves pure DataFrame work.
    """
    from apps.spark_session import connectors, spark_session

    session = spark_session(spark_settings, "shopstream-tests", master="local[1]",
                            with_connectors=connectors().is_cached(),
                            **{"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2"})
    yield session
    session.stop()
