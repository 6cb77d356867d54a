import base64

from apps.stack.envfile import TEMPLATE, ensure_env, fill_secrets


def test_every_placeholder_gets_its_own_fresh_value():
    filled = fill_secrets("A=<generated-secret>\nB=<generated-secret>\nC=<generated-fernet-key>\n")
    values = dict(line.split("=", 1) for line in filled.splitlines())
    assert values["A"] != values["B"]
    assert len(values["A"]) == 48 and int(values["A"], 16) >= 0
    assert len(base64.urlsafe_b64decode(values["C"])) == 32


def test_two_env_files_share_no_secret():
    assert fill_secrets(TEMPLATE.read_text()) != fill_secrets(TEMPLATE.read_text())


def test_template_keeps_no_placeholder_and_no_default_credentials():
    filled = fill_secrets(TEMPLATE.read_text())
    values = dict(line.split("=", 1) for line in filled.splitlines()
                  if line and not line.startswith("#"))
    assert not any("<generated" in v for v in values.values())
    assert "minioadmin" not in filled
    for key in ("S3_SECRET_KEY", "POSTGRES_SUPERUSER_PASSWORD", "AIRFLOW_DB_PASSWORD",
                "AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_SECRET_KEY"):
        assert len(values[key]) == 48, key
    assert values["POSTGRES_DSN"].startswith("postgresql://shopstream:")
    assert len(values["POSTGRES_DSN"].split(":")[2].split("@")[0]) == 48


def test_ensure_env_creates_once_and_never_overwrites(tmp_path):
    env = tmp_path / ".env"
    assert ensure_env(env) is True
    first = env.read_text()
    assert oct(env.stat().st_mode & 0o777) == "0o600"
    assert ensure_env(env) is False
    assert env.read_text() == first


def test_template_has_every_key_design_names():
    keys = {line.split("=", 1)[0] for line in TEMPLATE.read_text().splitlines()
            if line and not line.startswith("#")}
    assert {"API_URL", "KAFKA_BOOTSTRAP_SERVERS", "MONGO_URL", "MONGO_DB", "S3_ENDPOINT_URL",
            "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_BUCKET", "POSTGRES_DSN", "AIRFLOW_URL",
            "SPARK_MASTER"} <= keys


def test_secret_files_are_private_from_their_first_byte(tmp_path, monkeypatch):
    import os

    from apps.stack import templates

    created = []
    real_open = os.open

    def recording_open(path, flags, mode=0o777, *args):
        if flags & os.O_CREAT:
            created.append(mode)  # the mode asked for at creation
        return real_open(path, flags, mode, *args)

    monkeypatch.setattr(templates.os, "open", recording_open)
    old = os.umask(0)  # the widest umask: only the mode given at creation protects the file
    try:
        ensure_env(tmp_path / ".env")
        templates.ConfigFile(tmp_path / "run" / "s3.json", "{}").write()
    finally:
        os.umask(old)
    assert created == [0o600, 0o600]
    for path in (tmp_path / ".env", tmp_path / "run" / "s3.json"):
        assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_passwords_in_urls_are_masked_for_display():
    from apps.settings import redact

    assert redact("postgresql://shop:s3cr:et@db.example:5432/shop down; "
                  "mongodb://app:pw@a:1,b:2/?replicaSet=rs") == (
        "postgresql://shop:***@db.example:5432/shop down; mongodb://app:***@a:1,b:2/?replicaSet=rs")
    assert redact("mongodb://127.0.0.1:27017/ and http://127.0.0.1:8080") == (
        "mongodb://127.0.0.1:27017/ and http://127.0.0.1:8080")
