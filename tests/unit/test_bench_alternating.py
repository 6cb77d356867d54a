"""The ingest benchmark alternates compared scenarios, so load drift weighs on both."""

from apps.bench.ingest import alternating
from apps.bench.load import LoadResult


def test_scenarios_alternate_in_reversed_order_each_round_and_their_slices_add_up():
    calls = []

    def scenario(name: str, seconds: float):
        def one_slice(i: int):
            calls.append((name, i))
            result = LoadResult(seconds=seconds, latencies=[seconds])
            result.statuses[202] += 1
            return result, 0.5
        return one_slice

    (a, cpu_a), (b, cpu_b) = alternating([scenario("a", 1.0), scenario("b", 2.0)], rounds=3)
    assert calls == [("a", 0), ("b", 0), ("b", 1), ("a", 1), ("a", 2), ("b", 2)]
    assert (a.seconds, a.latencies, a.statuses[202], cpu_a) == (3.0, [1.0] * 3, 3, 1.5)
    assert (b.seconds, b.latencies, b.statuses[202], cpu_b) == (6.0, [2.0] * 3, 3, 1.5)
