"""The traffic generator: realistic shopping sessions sent to the ingestion API.

    python -m apps.generator --rate 5 --duration 60 --seed 7
"""

from apps.generator.run import Summary, run

__all__ = ["Summary", "run"]
