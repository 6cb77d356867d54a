"""The analyses over the Parquet lake: what shopstream exists to answer.

analyses.py  pure Spark DataFrame -> DataFrame functions (dedupe, order lines, four answers)
lake.py      reading the lake (schema from the contract) and the files it holds
reference.py the same four answers in DuckDB, the cross-check and the benchmark's reference
store.py     PostgreSQL: replacing the result tables in one transaction, reading them back
queries.py   the named queries of sql/ (`invoke sql top-repeat`)
notebook.py  what the two notebooks call
charts.py    matplotlib charts; report.py the offline HTML report
run.py       `invoke analyze`, `invoke sql`, `invoke lab`: notebooks run headless, tables printed
"""
