"""schemathesis against the API's own OpenAPI document, on an API process and topics of the
test's own: no 5xx, every response as documented, and exactly the records the API accepted
reach the topics, each one keeping the contract."""

from __future__ import annotations

import pytest

from apps.fuzz.campaign import fuzz

pytestmark = pytest.mark.integration

CASES = 1000  # about a minute; `invoke fuzz --cases N` runs longer campaigns
SEED = 20261129  # a fixed seed: CI runs the same cases every time


@pytest.fixture(scope="module")
def campaign(stack, tmp_path_factory):
    summary = fuzz(stack, CASES, SEED, tmp_path_factory.mktemp("fuzz"))
    print("\n".join(summary.lines()))
    return summary


def test_the_cases_ran_and_both_routes_accepted_records(campaign):
    assert campaign.cases >= CASES // 2
    assert len(campaign.accepted) == 2 and all(n > 0 for n in campaign.accepted.values()), \
        campaign.accepted
    assert {status for status in campaign.statuses} >= {202, 422}


def test_no_server_error_and_every_response_as_documented(campaign):
    assert [s for s in campaign.statuses if s >= 500] == []
    assert campaign.failures == []


def test_exactly_the_accepted_records_reach_the_topics_and_keep_the_contract(campaign):
    assert campaign.in_kafka == campaign.accepted
    assert campaign.breaches == []
