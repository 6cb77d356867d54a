"""The operator's view of the whole pipeline: one schema (schema.py) for `invoke status`,
`invoke status --json`, `invoke watch` and the watchdog.

    readings.py   I/O: each stage's recorded figures, read in parallel, each with a deadline
    stages.py     pure: readings -> one entry per stage, health and figures with their ages
    rules.py      pure: when a stage is stale (the watchdog alerts on the same rules)
    view.py       the tables (`invoke status`, `invoke watch`)
    watchdog.py   the supervised program that alerts once per streak of a stale stage

Nothing here scans data: every figure is read from where its stage recorded it.
"""
