"""When a stage counts as past a run's offsets: every partition at or beyond its end."""

from apps.e2e.waits import passed


def test_every_partition_must_reach_its_end():
    assert passed({0: 10, 1: 7, 2: 3}, {0: 10, 1: 7, 2: 3})
    assert passed({0: 12, 1: 9, 2: 3}, {0: 10, 1: 7, 2: 3})
    assert not passed({0: 12, 1: 6, 2: 3}, {0: 10, 1: 7, 2: 3})


def test_a_partition_with_nothing_committed_is_at_zero():
    assert not passed({0: None, 1: 7}, {0: 1, 1: 7})
    assert not passed({1: 7}, {0: 1, 1: 7})
    assert passed({0: None}, {0: 0})
