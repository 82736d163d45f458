"""Execution engines: where an operation's plan is carried out.

``local`` (default) runs the operation in this process; ``spark`` runs it through Iceberg's Spark
procedures (see `phlo_lakehouse.engines.spark`); ``auto`` picks by table size. Planning, dry runs,
access checks, audit and metrics stay in the single executor whichever engine executes.
"""

from phlo_lakehouse.engines.auto import ENGINE_KINDS, AutoEngine, build_engine
from phlo_lakehouse.engines.base import Engine, LocalEngine
from phlo_lakehouse.engines.spark import SparkEngine
from phlo_lakehouse.errors import SparkUnavailable

__all__ = [
    "ENGINE_KINDS",
    "AutoEngine",
    "Engine",
    "LocalEngine",
    "SparkEngine",
    "SparkUnavailable",
    "build_engine",
]
