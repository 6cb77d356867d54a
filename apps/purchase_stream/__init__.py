"""The purchase stream: every `PurchasedItem` Kafka record, once, as Parquet in the S3 store.

layout     the lake's row layout and object keys (a contract with the analysis)
validate   the contract module applied to raw Kafka values, inside `mapInArrow`
transform  DataFrame -> DataFrame steps of the streaming query
writer     each micro-batch's one pass: split valid/quarantine, one PUT per object
query      the streaming query, as the job and the tests start it
progress   the query's progress file, and the activity line of `invoke status`
alert      the supervisord event listener that posts when the job dies
"""
