"""The events DAG's identity: its id, its schedule and the consumer group whose committed
offsets say what it has landed and counted. Light: `invoke status` and the watchdog import
it without the DAG's work (kafka-python, pymongo)."""

DAG_ID = "user_events_to_mongo"
SCHEDULE_MINUTES = 2
SCHEDULE = f"*/{SCHEDULE_MINUTES} * * * *"  # a cron string fires on the clock
GROUP_ID = "shopstream-user-events-to-mongo"
