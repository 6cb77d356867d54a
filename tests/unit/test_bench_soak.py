"""The soak reads the generator's closing line from its log."""

import pytest

from apps.bench.soak import GeneratorSummary, generator_summary


def test_the_generators_closing_line_is_read_even_wrapped(tmp_path):
    log = tmp_path / "generator.log"
    log.write_text("generator: seed 1, 50 purchases/s\nsent 10 · accepted 10\n"
                   "generator done in 600.3s: sent 81000 · accepted\n 80990 (71000 events, "
                   "9990 purchases) · retried 4 · failed 10\n")
    assert generator_summary(log) == GeneratorSummary(600.3, 81000, 80990, 71000, 9990)


def test_a_generator_that_did_not_finish_is_named(tmp_path):
    log = tmp_path / "generator.log"
    log.write_text("generator: seed 1, 50 purchases/s\n")
    with pytest.raises(RuntimeError, match="the generator did not finish; see .*generator.log"):
        generator_summary(log)
