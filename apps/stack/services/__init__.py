"""One module per service; `ALL` lists them in the order `invoke up` starts them."""

from apps.stack.services import (
    airflow, api, generator, kafka, mongo, postgres, s3, spark_connect, stream, watchdog,
)

ALL = (
    postgres.SERVICE,
    kafka.SERVICE,
    mongo.SERVICE,
    s3.SERVICE,
    airflow.SERVICE,
    api.SERVICE,
    stream.SERVICE,
    generator.SERVICE,
    spark_connect.SERVICE,
    watchdog.SERVICE,
)
