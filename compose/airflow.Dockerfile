# Airflow with the same locked packages as the native runtime's Airflow environment.
FROM apache/airflow:3.3.2-python3.11
COPY config/airflow/requirements.lock /tmp/requirements.lock
RUN pip install --no-cache-dir -r /tmp/requirements.lock
