"""shopstream's data contract: the records, their rules, their Kafka form and schemas."""
