"""The sample tables (issue 14): PostgreSQL native declarative partitioning by time, not Django
models (a model instance per sample would cost more than the sample).

* ``monitoring_sample``: raw resource samples, one row per (series, ts) every collection interval,
  a partition per day, kept ``PORTAL_METRICS_RAW_RETENTION_HOURS`` (24 h);
* ``monitoring_sample_5m`` / ``monitoring_sample_1h``: roll-ups (averages, and the maxima of usage),
  a partition per day (kept 30 days) and per month (kept 400 days);
* ``monitoring_point`` and its roll-ups ``monitoring_point_5m`` / ``monitoring_point_1h``: named
  scalar metrics (from Prometheus, or derived: restarts, a volume's fill ratio), same partitioning.

Columns of the resource tables are in cores and bytes; ``*_billed`` is max(request, usage) taken per
pod or container and summed upwards, so it stays right at every level. Retention drops partitions
(:mod:`monitoring.store`), never ``DELETE``. Partitions are created ahead by the store; there is no
default partition (a default partition would have to be emptied before a new range could attach).
"""

from django.db import migrations

RESOURCE_COLUMNS = """
    series_id bigint NOT NULL,
    ts timestamptz NOT NULL,
    cpu_usage double precision,
    mem_usage double precision,
    cpu_request double precision,
    mem_request double precision,
    cpu_limit double precision,
    mem_limit double precision,
    cpu_billed double precision,
    mem_billed double precision,
    cpu_allocatable double precision,
    mem_allocatable double precision,
    cpu_capacity double precision,
    mem_capacity double precision,
    pods integer"""

ROLLUP_EXTRA = """,
    cpu_usage_max double precision,
    mem_usage_max double precision,
    samples integer NOT NULL DEFAULT 0"""


def _resource(table: str, rollup: bool) -> str:
    return (f"CREATE TABLE {table} ({RESOURCE_COLUMNS}{ROLLUP_EXTRA if rollup else ''}) PARTITION BY RANGE (ts);\n"
            f"CREATE UNIQUE INDEX {table}_series_ts ON {table} (series_id, ts);\n")


def _point(table: str, rollup: bool) -> str:
    extra = ", value_max double precision, samples integer NOT NULL DEFAULT 0" if rollup else ""
    return (f"CREATE TABLE {table} (series_id bigint NOT NULL, metric varchar(64) NOT NULL, "
            f"ts timestamptz NOT NULL, value double precision{extra}) PARTITION BY RANGE (ts);\n"
            f"CREATE UNIQUE INDEX {table}_series_metric_ts ON {table} (series_id, metric, ts);\n")


FORWARD = "".join([
    _resource("monitoring_sample", False), _resource("monitoring_sample_5m", True),
    _resource("monitoring_sample_1h", True),
    _point("monitoring_point", False), _point("monitoring_point_5m", True), _point("monitoring_point_1h", True),
])
BACKWARD = "".join(f"DROP TABLE IF EXISTS {t};\n" for t in (
    "monitoring_sample", "monitoring_sample_5m", "monitoring_sample_1h",
    "monitoring_point", "monitoring_point_5m", "monitoring_point_1h"))


class Migration(migrations.Migration):

    dependencies = [
        ("monitoring", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
