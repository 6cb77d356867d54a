"""The analyses over the Parquet lake: what shopstream exists to answer.

analyses.py  pure Spark DataFrame -> DataFrame functions (dedupe, the four answers)
lake.py      reading the lake (schema from the contract) and the files it holds
reference.py the same four answers in DuckDB, the cross-check and the benchmark's reference
store.py     PostgreSQL: replacing a result table in one transaction, reading it back
charts.py    matplotlib charts; report.py the offline HTML report
run.py       `invoke analyze` and `invoke sql`: notebooks run headless, tables printed
"""
