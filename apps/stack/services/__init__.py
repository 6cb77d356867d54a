"""One module per service. `EVERY` lists them in the order `invoke up` starts them; `ALL`
is the active profile's (apps/profiles.py: only the cluster profile runs a Spark
standalone cluster; a need of a service the profile lacks is no need)."""

from apps.profiles import Profile
from apps.stack.paths import PROFILE
from apps.stack.services import (
    airflow, api, generator, kafka, mongo, postgres, s3, spark_cluster, spark_connect, stream,
    watchdog,
)

EVERY = (
    postgres.SERVICE,
    kafka.SERVICE,
    mongo.SERVICE,
    s3.SERVICE,
    airflow.SERVICE,
    api.SERVICE,
    spark_cluster.SERVICE,
    stream.SERVICE,
    generator.SERVICE,
    spark_connect.SERVICE,
    watchdog.SERVICE,
)


def services_of(profile: Profile) -> tuple:
    return tuple(s for s in EVERY if s is not spark_cluster.SERVICE or profile.spark_standalone)


ALL = services_of(PROFILE)
