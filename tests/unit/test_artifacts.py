import xml.etree.ElementTree as ET

from apps.stack.artifacts import GoBinary, MavenJars

NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def test_pom_lists_each_coordinate():
    jars = MavenJars("kafka", ("org.apache.kafka:kafka_2.13:4.1.1", "a.b:c:1.0"))
    root = ET.fromstring(jars.pom())
    deps = [(d.find("m:groupId", NS).text, d.find("m:artifactId", NS).text,
             d.find("m:version", NS).text) for d in root.iterfind(".//m:dependency", NS)]
    assert deps == [("org.apache.kafka", "kafka_2.13", "4.1.1"), ("a.b", "c", "1.0")]


def test_cache_key_changes_with_versions():
    a = MavenJars("kafka", ("org.apache.kafka:kafka_2.13:4.1.1",))
    b = MavenJars("kafka", ("org.apache.kafka:kafka_2.13:4.1.2",))
    assert a.key != b.key and a.key == MavenJars("kafka", a.coordinates).key


def test_go_binary_is_keyed_by_version():
    weed = GoBinary("github.com/seaweedfs/seaweedfs", "v0.0.0-1", "./weed")
    assert weed.binary == "weed"
    assert weed.key == "weed-v0.0.0-1"
    assert weed.path().name == "weed"
