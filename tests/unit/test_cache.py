import pytest

from apps.stack import cache


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPSTREAM_CACHE", str(tmp_path))
    return tmp_path


def test_entry_is_built_once(private_cache):
    calls = []

    def build(folder):
        calls.append(folder)
        (folder / "tool").write_text("ok")

    first = cache.cached("go", "tool-v1", build)
    second = cache.cached("go", "tool-v1", build)
    assert first == second == private_cache / "go" / "tool-v1"
    assert (first / "tool").read_text() == "ok"
    assert len(calls) == 1


@pytest.mark.parametrize("error", [RuntimeError("download failed"), KeyboardInterrupt()])
def test_interrupted_build_leaves_nothing_taken_as_whole(private_cache, error):
    def build(folder):
        (folder / "half.jar").write_text("partial")
        raise error

    with pytest.raises(type(error)):
        cache.cached("maven", "kafka-1", build)
    assert not cache.is_cached("maven", "kafka-1")
    assert [p.name for p in (private_cache / "maven").iterdir()] == [".kafka-1.lock"]

    cache.cached("maven", "kafka-1", lambda folder: (folder / "whole.jar").write_text("ok"))
    assert [p.name for p in (private_cache / "maven" / "kafka-1").iterdir()] == ["whole.jar"]
