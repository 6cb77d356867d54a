import pytest

from apps.stack.doctor import go_minor, java_major


@pytest.mark.parametrize("output, major", [
    ('openjdk version "17.0.15" 2025-04-15', 17),
    ('openjdk version "21" 2023-09-19', 21),
    ('java version "1.8.0_412"', 8),
    ("bash: java: command not found", None),
])
def test_java_major(output, major):
    assert java_major(output) == major


def test_go_minor():
    assert go_minor("go version go1.26.8 linux/amd64") == (1, 26)
    assert go_minor("nothing") is None
