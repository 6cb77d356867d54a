"""The ingestion API: validates records against the contract and publishes them to Kafka."""
