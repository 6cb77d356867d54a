"""Fuzzing the ingestion API with schemathesis, against its own OpenAPI document, on an API
process and topics of the run's own: `invoke fuzz` and tests/integration/test_api_fuzz.py."""
