import configparser

from apps.stack.paths import LOG_DIR
from apps.stack.spec import Program
from apps.stack.supervisor import render_conf


def parse(text: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    return parser


def test_each_program_is_supervised_with_its_own_log():
    conf = parse(render_conf([
        Program("kafka", ["java", "-cp", "/cache/kafka/*", "kafka.Kafka"]),
        Program("postgres", ["postgres", "-D", "/data"], user="shopstream", stop_signal="INT"),
    ]))
    kafka = conf["program:kafka"]
    assert kafka["command"] == "java -cp '/cache/kafka/*' kafka.Kafka"
    assert kafka["autorestart"] == "true" and kafka["autostart"] == "false"
    assert kafka["stdout_logfile"] == str(LOG_DIR / "kafka.log")  # under .stack/ (or a profile's)
    assert "user" not in kafka
    assert conf["program:postgres"]["user"] == "shopstream"
    assert conf["program:postgres"]["stopsignal"] == "INT"


def test_percent_signs_and_quotes_survive_supervisord_expansion():
    conf = parse(render_conf([Program("p", ["echo", "50%"], env={"SECRET": "a%b"})]))
    # supervisord turns %% back into %; a single % would be read as %(name)s expansion.
    assert conf["program:p"]["command"] == "echo 50%%"
    assert conf["program:p"]["environment"] == 'SECRET="a%%b"'
