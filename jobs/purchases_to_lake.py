"""Spark Structured Streaming: every `PurchasedItem` record, once, as Parquet in the S3 store.

    python jobs/purchases_to_lake.py [--topic T] [--root PREFIX/] [--checkpoint DIR] ...

`invoke up` runs it under supervisord with the defaults; tests and benchmarks pass a topic,
lake prefix and checkpoint of their own. How and why: apps/purchase_stream/.
"""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from apps.purchase_stream import query  # noqa: E402
from apps.purchase_stream.config import EXIT_DATA_LOST, parse_args  # noqa: E402
from apps.purchase_stream.listener import ProgressFile  # noqa: E402
from apps.purchase_stream.resume import DataLost, prepare  # noqa: E402
from apps.settings import get_settings  # noqa: E402
from apps.spark_session import spark_session  # noqa: E402

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
logging.getLogger("py4j").setLevel(logging.WARNING)  # a line per callback otherwise
config = parse_args(sys.argv[1:])
settings = get_settings()

try:
    point = prepare(settings, config)  # where to start, and what was lost before it
except DataLost as lost:
    logging.getLogger("purchase_stream").error("stopping: %s", lost)
    sys.exit(EXIT_DATA_LOST)  # supervisord leaves the job stopped: no crash loop

spark = spark_session(settings, "purchases-to-lake", **query.DRIVER_OPTIONS)
spark.sparkContext.setLogLevel("WARN")
spark.streams.addListener(ProgressFile(config.progress_file, point.topic.topic_id))
query.run(spark, settings, config, point)
