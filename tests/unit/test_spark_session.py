from apps.spark_session import artifact_name, extra_jars, s3a_options


def test_artifact_name_strips_the_version():
    assert artifact_name("kafka-clients-3.9.2.jar") == "kafka-clients"
    assert artifact_name("spark-sql-kafka-0-10_2.13-4.2.0.jar") == "spark-sql-kafka-0-10_2.13"
    assert artifact_name("bundle-2.35.4.jar") == "bundle"


def test_jars_pyspark_ships_are_not_added_twice():
    resolved = ["hadoop-aws-3.5.0.jar", "hadoop-client-api-3.5.0.jar", "kafka-clients-3.9.2.jar",
                "scala-library-2.13.15.jar"]
    shipped = ["hadoop-client-api-3.5.0.jar", "scala-library-2.13.18.jar"]
    assert extra_jars(resolved, shipped) == ["hadoop-aws-3.5.0.jar", "kafka-clients-3.9.2.jar"]


def test_s3a_options_follow_the_settings(settings):
    options = s3a_options(settings)
    assert options["spark.hadoop.fs.s3a.endpoint"] == settings.s3_endpoint_url
    assert options["spark.hadoop.fs.s3a.access.key"] == settings.s3_access_key
    assert options["spark.hadoop.fs.s3a.path.style.access"] == "true"
