"""JSON Schema of the Component's YAML attributes, so ``dg check yaml`` rejects what loading would.

``dg check yaml`` validates ``defs.yaml`` against the JSON Schema of the Component's model only
(it does not run Python validators), and Dagster's derived model lets every field also be any
string (for ``{{ env.X }}`` templates). The schemas here close that gap: sizes, durations, cron
strings, selectors, timezones and thresholds are described precisely, unknown keys are
refused, and a string is only accepted in place of another type when it is a template.
Loading still validates everything again with the Python parsers (`phlo_lakehouse.units`,
`phlo_lakehouse.identifiers`), which have the last word.

Example:
    >>> import re
    >>> bool(re.match(SIZE_PATTERN, "128MB")), bool(re.match(SIZE_PATTERN, "12XB"))
    (True, False)
"""

from typing import Any

import dagster as dg

from phlo_lakehouse.dagster.run_config import OPERATION_SETTINGS

#: A ``{{ … }}`` template Dagster resolves when the component loads.
TEMPLATE: dict[str, Any] = {"type": "string", "pattern": r"^\s*\{\{.*\}\}\s*$"}

_NUMBER = r"\d+(\.\d+)?"
#: Sizes as `phlo_lakehouse.units.parse_size` reads them ("128MB", "512MiB", "1g", "1048576").
SIZE_PATTERN = rf"^\s*{_NUMBER}\s*([kKmMgGtT][iI]?[bB]?|[bB])?\s*$"
#: Durations as `phlo_lakehouse.units.parse_duration` reads them ("36h", "5d", "P5D", "PT36H").
DURATION_PATTERN = (
    rf"^(\s*{_NUMBER}\s*([mM][sS]|[sS]|[mM]([iI][nN])?|[hH]|[dD]|[wW])\s*"
    rf"|[pP](?=.*\d)({_NUMBER}[wW])?({_NUMBER}[dD])?"
    rf"([tT](?=.*\d)({_NUMBER}[hH])?({_NUMBER}[mM])?({_NUMBER}[sS])?)?)$"
)
_CRON_FIELD = r"[0-9A-Za-z*?/,#-]+"
#: Five cron fields (minute hour day-of-month month day-of-week) or a macro like @daily.
_CRON_MACRO = r"@(yearly|annually|monthly|weekly|daily|hourly)"
CRON_PATTERN = rf"^\s*({_CRON_MACRO}|{_CRON_FIELD}(\s+{_CRON_FIELD}){{4}})\s*$"
_SELECTOR_PART = r"[A-Za-z0-9_*?\[\]][A-Za-z0-9_$*?\[\]-]*"
#: A table selector: namespace.table with optional wildcards in every part ("raw.*").
SELECTOR_PATTERN = rf"^\s*{_SELECTOR_PART}(\.{_SELECTOR_PART})+\s*$"
_PART = r"[A-Za-z0-9_][A-Za-z0-9_$-]*"
#: A literal table name, no wildcards ("raw.events").
TABLE_PATTERN = rf"^\s*{_PART}(\.{_PART})+\s*$"
#: A branch or tag name.
REF_PATTERN = r"^[A-Za-z]([A-Za-z0-9_./-]*[A-Za-z0-9_-])?$"
#: Marks a property whose ``enum`` of timezones `fill_timezones` adds when the schema is made.
TIMEZONE_MARK = "x-lakehouse-timezone"
#: A Python identifier (resource keys).
KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


def or_template(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema``, or a ``{{ … }}`` template in its place. Written as if/then/else (not anyOf) so
    a bad value is reported by the rule it breaks, at its own path; ``anyOf: [{}]`` replaces
    the any-string alternative Dagster's model adds to every field."""
    return {"anyOf": [{}], "if": TEMPLATE, "then": {}, "else": schema}


def size() -> dict[str, Any]:
    """A size: bytes as a number, or text such as 128MB."""
    return {
        "type": ["integer", "string"],
        "minimum": 1,
        "pattern": SIZE_PATTERN,
        "examples": ["128MB", "512MiB", 134217728],
    }


def duration() -> dict[str, Any]:
    """A duration: seconds as a number, or text such as 5d, 36h, P5D."""
    return {
        "type": ["number", "string"],
        "minimum": 0,
        "pattern": DURATION_PATTERN,
        "examples": ["5d", "36h", "P5D"],
    }


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or null (kept a single schema, so errors stay specific)."""
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return {**schema, "type": [*types, "null"]}


def closed_object(properties: dict[str, dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """An object with exactly these optional keys."""
    return {"type": "object", "additionalProperties": False, "properties": properties, **extra}


_SIZE_SETTINGS = {"target_file_size", "max_file_group_size", "target_manifest_size"}
_DURATION_SETTINGS = {"older_than", "retention"}


def _setting_schema(key: str, setting: Any) -> dict[str, Any]:
    config_type, nullable_type = setting.config_type, False
    if isinstance(config_type, dg.Noneable):
        config_type, nullable_type = config_type.inner_type, True
    if key in _SIZE_SETTINGS:
        schema = size()
    elif key in _DURATION_SETTINGS:
        schema = duration()
    elif isinstance(config_type, dg.Enum):
        schema = {"enum": [v.config_value for v in config_type.enum_values]}
    elif config_type is bool or getattr(config_type, "key", None) == "Bool":
        schema = {"type": "boolean"}
    elif config_type is int or getattr(config_type, "key", None) == "Int":
        schema = {"type": "integer", "minimum": 0}
    elif config_type == [str]:
        schema = {"type": "array", "items": {"type": "string"}}
    else:
        schema = {"type": "string"}
    schema = nullable(schema) if nullable_type else schema
    return {**schema, "description": setting.description}


def settings_schema(kind: str, *, required: bool = False) -> dict[str, Any]:
    """The YAML schema of one operation's settings (`run_config.OPERATION_SETTINGS`);
    ``required``: its required settings must be given."""
    settings = OPERATION_SETTINGS[kind]
    extra = {"required": [k for k, s in settings.items() if s.required]} if required else {}
    return closed_object({key: _setting_schema(key, s) for key, s in settings.items()}, **extra)


def schedules_schema(jobs: list[str]) -> dict[str, Any]:
    """The YAML schema of the ``schedules`` list."""
    entry = closed_object(
        {
            "job": {"enum": jobs, "description": "Job name without prefix."},
            "cron": {
                "type": "string",
                "pattern": CRON_PATTERN,
                "description": "Five fields: minute hour day-of-month month day-of-week.",
                "examples": ["0 3 * * *"],
            },
            "timezone": {
                "type": "string",
                "description": "IANA timezone, e.g. Europe/Berlin (default UTC).",
                TIMEZONE_MARK: True,
            },
            "default_status": {"enum": ["RUNNING", "STOPPED"]},
            "run_config": {"type": "object", "description": "Selection op config overrides."},
            "description": {"type": "string"},
        },
        required=["job", "cron"],
    )
    return {"type": "array", "items": entry}


def ratio() -> dict[str, Any]:
    """A share between 0 and 1."""
    return {"type": "number", "minimum": 0, "maximum": 1}


def count(minimum: int = 0) -> dict[str, Any]:
    """A whole number from ``minimum`` up."""
    return {"type": "integer", "minimum": minimum}


def timezones() -> list[str]:
    """The IANA timezone names this machine knows."""
    from zoneinfo import available_timezones

    return sorted(available_timezones() | {"UTC"})


def fill_timezones(schema: Any) -> None:
    """Give every property marked `TIMEZONE_MARK` the known timezones as its ``enum`` (done when
    the JSON Schema is generated: listing the timezone database at import would read hundreds
    of files)."""
    if isinstance(schema, dict):
        if schema.pop(TIMEZONE_MARK, False):
            # Not an enum: its error would list all ~600 names. This one says which value.
            schema.update({"if": {"not": {"enum": timezones()}}, "then": False})
        for value in schema.values():
            fill_timezones(value)
    elif isinstance(schema, list):
        for value in schema:
            fill_timezones(value)
