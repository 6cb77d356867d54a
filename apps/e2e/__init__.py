"""Proving the deployed pipeline end to end: `invoke e2e` and `invoke chaos`.

ledger.py     what the API accepted, record by record, and how often each was sent (pure)
reconcile.py  ledger + what the stores hold -> the table's rows, expected against found (pure)
found.py      reading what Kafka, MongoDB, the lake and PostgreSQL hold for one run (I/O)
waits.py      waiting for the DAG and the stream to pass a run's offsets (I/O)
faults.py     the chaos run's faults, each undone in a `finally`, with their timeline
run.py        one run: traffic, waits, analysis, reconciliation, the printed table
"""
