import pytest

from apps.settings import Settings
from apps.stack.envfile import TEMPLATE, fill_secrets


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Settings from the template (fresh secrets), independent of the repo's .env."""
    env = tmp_path / ".env"
    env.write_text(fill_secrets(TEMPLATE.read_text()))
    return Settings(_env_file=env)
