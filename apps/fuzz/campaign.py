"""A fuzz campaign: schemathesis cases from the API's own OpenAPI document, sent to an API
process of the campaign's own that publishes to topics of its own (deleted afterwards), so
no fuzz record can enter the pipeline. Then the topics are read back: every record must
keep the contract, and there must be exactly as many as the API said it accepted.

Cases are positive (valid by the document's JSON Schema) and negative (breaking it), spread
over every operation; each response goes through schemathesis' checks. `positive_data_
acceptance` is left out: the contract has rules a JSON Schema cannot say (TotalPrice is the
sum of the lines, a discount is at most its price), so a schema-valid body may rightly get
the documented 422.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import hypothesis
import schemathesis
from hypothesis import HealthCheck
from kafka import KafkaConsumer, TopicPartition
from schemathesis.core import NOT_SET
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from apps.api.local_server import running_api
from apps.bench.ingest import bench_topics
from apps.fuzz.topics import MODELS, contract_breaches
from apps.settings import Settings

READ_TIMEOUT_S = 120
# The ingestion routes get most of the cases: they are where records enter.
WEIGHTS = {"PUT /SendEvent": 4, "POST /PurchasedItems": 4, "GET /health": 1, "GET /metrics": 1}


@dataclass
class Summary:
    seed: int
    cases: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # schemathesis check failures, 5xx
    accepted: Counter = field(default_factory=Counter)  # records answered 202, per topic
    in_kafka: Counter = field(default_factory=Counter)  # records read back, per topic
    breaches: list[str] = field(default_factory=list)  # records that break the contract
    seconds: float = 0.0
    api_log: Path | None = None

    @property
    def ok(self) -> bool:
        return not (self.failures or self.breaches) and self.accepted == self.in_kafka

    def lines(self) -> list[str]:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        out = [f"{self.cases} cases in {self.seconds:.0f} s (seed {self.seed}); statuses {statuses}",
               f"check failures and 5xx: {len(self.failures)}",
               *(f"  {f}" for f in self.failures[:20])]
        for topic in sorted(set(self.accepted) | set(self.in_kafka)):
            out.append(f"{topic}: accepted {self.accepted[topic]}, "
                       f"in Kafka {self.in_kafka[topic]}")
        out += [f"records breaking the contract: {len(self.breaches)}",
                *(f"  {b}" for b in self.breaches[:20]), "PASS" if self.ok else "FAIL"]
        return out


def read_topic(settings: Settings, topic: str) -> list[tuple[bytes | None, bytes]]:
    """Every (key, value) of `topic`, up to the end offsets noted at the start."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_servers, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends, messages = consumer.end_offsets(parts), []
        deadline = time.monotonic() + READ_TIMEOUT_S
        while any(consumer.position(p) < ends[p] for p in parts):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic} could not be read back in {READ_TIMEOUT_S} s")
            for tp, batch in consumer.poll(timeout_ms=500).items():
                messages += [(m.key, m.value) for m in batch if m.offset < ends[tp]]
        return messages
    finally:
        consumer.close()


def _describe(case, exc: Failure | FailureGroup) -> str:
    """One line: the request, and each failed check's code, title and message."""
    body = repr(case.body)[:300] if case.body is not NOT_SET else ""
    failures = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
    found = "; ".join(f"{f.code} {f.title}: {' '.join(f.message.split())[:200]}"
                      for f in failures)
    return f"{case.method} {case.path} {body} -> {found}"


def _exercise(schema, base_url: str, cases: int, summary: Summary, topics: dict[str, str]) -> None:
    """Run about `cases` cases, shared out by WEIGHTS and half positive, half negative."""
    weight = sum(WEIGHTS.values())
    for operation in schema.get_all_operations():
        operation = operation.ok()
        label = f"{operation.method.upper()} {operation.path}"
        route_topic = {"PUT /SendEvent": topics["KAFKA_USER_EVENTS_TOPIC"],
                       "POST /PurchasedItems": topics["KAFKA_PURCHASES_TOPIC"]}.get(label)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            examples = max(1, cases * WEIGHTS.get(label, 1) // weight // 2)

            @hypothesis.settings(max_examples=examples, deadline=None, database=None,
                                 derandomize=False, phases=[hypothesis.Phase.generate],
                                 suppress_health_check=list(HealthCheck))
            @hypothesis.seed(summary.seed)
            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            def one(case) -> None:
                response = case.call(base_url=base_url, timeout=30)
                summary.cases += 1
                summary.statuses[response.status_code] += 1
                if response.status_code == 202 and route_topic:
                    summary.accepted[route_topic] += response.json()["accepted"]
                # A body over 2 MiB is refused with 413, as documented: a rejection too,
                # though not one of the statuses schemathesis expects of invalid data.
                excluded = [positive_data_acceptance,
                            *([negative_data_rejection] if response.status_code == 413 else [])]
                try:
                    case.validate_response(response, excluded_checks=excluded)
                except (Failure, FailureGroup) as exc:  # noted; the run goes on
                    summary.failures.append(_describe(case, exc))

            try:
                one()
            except hypothesis.errors.Unsatisfiable:
                pass  # nothing to negate: the operation takes no input


def fuzz(settings: Settings, cases: int, seed: int, log_dir: Path | None = None,
         app: str = "apps.api.main:app") -> Summary:
    """Run about `cases` cases against `app` served as the supervisor serves the API."""
    summary = Summary(seed=seed)
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="shopstream-fuzz-"))
    summary.api_log = log_dir / "api.log"
    started = time.monotonic()
    with bench_topics(settings) as environment:
        with running_api(settings, summary.api_log, app=app, environment=environment) as api:
            api.wait_for_health(200)
            schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
            with warnings.catch_warnings():  # schemathesis' own strategies use `random`
                warnings.simplefilter("ignore", hypothesis.errors.HypothesisDeprecationWarning)
                _exercise(schema, api.url, cases, summary, environment)
        for variable, topic in environment.items():
            messages = read_topic(settings, topic)
            summary.in_kafka[topic] = len(messages)
            summary.accepted[topic] += 0  # a topic nothing reached still shows
            summary.breaches += contract_breaches(MODELS[variable], messages)
    summary.seconds = time.monotonic() - started
    return summary
