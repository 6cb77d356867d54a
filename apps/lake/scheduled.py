"""The lake's maintenance as Airflow runs it: in the project's virtual environment, as a
subprocess (apps/project_python.py), since Airflow's own environment has no delta-rs.

    <project python> -m apps.lake.maintenance --closed [--root PREFIX/]
"""

from __future__ import annotations

from apps.project_python import run_module

MODULE = "apps.lake.maintenance"


def maintenance_arguments(closed: bool, root: str = "") -> list[str]:
    return (["--closed"] if closed else []) + (["--root", root] if root else [])


def run_maintenance(closed: bool = True, root: str = "",
                    environ: dict[str, str] | None = None) -> list[str]:
    """Run the maintenance to its end; its last lines, or ProjectRunFailed with them."""
    return run_module(MODULE, maintenance_arguments(closed, root), environ)
