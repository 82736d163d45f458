"""phlo-lakehouse inside Phlo: the provider plugin, its maintenance executors, schema migrator,
authorization and telemetry hooks, and the Dagster extension for phlo-dagster.

Phlo loads these modules through entry points (``phlo.plugins.resources``,
``phlo.plugins.dagster``), and our hook builder loads the hooks through ``phlo_lakehouse.hooks``
(`phlo_lakehouse.phlo_adapter.hooks`); they import ``phlo`` and are never imported by ``import
phlo_lakehouse``. (The package is not called ``phlo`` so that it can never shadow the ``phlo``
distribution, whatever ``sys.path`` holds.)

Example:
    >>> from phlo_lakehouse.phlo_adapter.tokens import PREFIX
    >>> PREFIX
    'plk1'
"""
