"""The fuzz campaign's reading of its topics: a record breaking the contract is named."""

from apps.contract.models import Purchase, UserEvent, kafka_key, kafka_value
from apps.fuzz.topics import contract_breaches
from apps.generator.traffic import TrafficBuilder

BATCH = TrafficBuilder(seed=3, users=5, products=5).batch(3)


def test_records_that_keep_the_contract_pass():
    messages = [(kafka_key(e), kafka_value(e)) for e in BATCH.events]
    assert contract_breaches(UserEvent, messages) == []
    assert contract_breaches(Purchase, [(kafka_key(p), kafka_value(p)) for p in BATCH.purchases]) == []


def test_a_record_that_breaks_the_contract_is_named():
    event = BATCH.events[0]
    bad = kafka_value(event).replace(b'"EventName":"', b'"EventName":"X')
    [breach] = contract_breaches(UserEvent, [(kafka_key(event), bad)])
    assert breach.startswith("UserEvent ") and "EventName" in breach or "Input should be" in breach


def test_a_purchase_on_the_events_topic_and_a_wrong_key_are_named():
    purchase, event = BATCH.purchases[0], BATCH.events[0]
    breaches = contract_breaches(UserEvent, [(kafka_key(purchase), kafka_value(purchase)),
                                             (b"someone-else", kafka_value(event))])
    assert len(breaches) == 2
    assert breaches[1] == f"UserEvent key b'someone-else' is not its UserId {event.UserId!r}"
