"""Catalog settings from explicit values or the environment (ours and Phlo's variables).

Precedence, highest first: explicit arguments, ``PHLO_LAKEHOUSE_*`` variables, Phlo's own
variables (``NESSIE_HOST``, ``NESSIE_PORT``, ``MINIO_*``, ``ICEBERG_WAREHOUSE_PATH``,
``ICEBERG_NESSIE_REF``), then the embedded default: a SQLite catalog in ``.lakehouse/catalog.db``
with a local warehouse in ``.lakehouse/warehouse``. Nothing here opens a connection.

Example:
    >>> s = CatalogSettings.from_env({"NESSIE_HOST": "nessie", "NESSIE_PORT": "19120"})
    >>> s.type, s.uri
    ('nessie', 'http://nessie:19120')
    >>> CatalogSettings.embedded("/tmp/lh").uri
    'sqlite:////tmp/lh/catalog.db'
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypedDict, Unpack

from phlo_lakehouse.errors import InvalidConfig
from phlo_lakehouse.identifiers import validate_ref_name

CATALOG_TYPES = ("sql", "rest", "nessie", "glue", "hive")
DEFAULT_HOME = ".lakehouse"
DEFAULT_CATALOG_NAME = "lakehouse"
_PREFIX = "PHLO_LAKEHOUSE_"


class SettingsFields(TypedDict, total=False):
    """`CatalogSettings` fields as keyword arguments (overrides of `CatalogSettings.embedded`)."""

    type: str
    name: str
    uri: str | None
    warehouse: str | None
    default_ref: str
    properties: Mapping[str, str]


@dataclass(frozen=True)
class CatalogSettings:
    """Where the catalog is and how to reach it.

    Attributes:
        type: one of sql, rest, nessie, glue, hive.
        name: the catalog name (SQL catalogs keep tables per name; Spark uses it too).
        uri: SQLAlchemy URL (sql), base HTTP URL (rest; nessie without /iceberg or /api),
            or thrift://host:port (hive). Not used by glue.
        warehouse: warehouse location (sql, hive, glue) or REST/Nessie warehouse name/location.
        default_ref: ref used when a call names none (Nessie branch/tag or table ref).
        properties: extra PyIceberg catalog properties (s3.*, glue.*, token, …).

    Example:
        >>> CatalogSettings(type="rest", uri="http://127.0.0.1:8181").type
        'rest'
    """

    type: str = "sql"
    name: str = DEFAULT_CATALOG_NAME
    uri: str | None = None
    warehouse: str | None = None
    default_ref: str = "main"
    properties: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in CATALOG_TYPES:
            raise InvalidConfig(
                f"catalog type {self.type!r} is not supported",
                hint=f"choose one of {', '.join(CATALOG_TYPES)}",
            )
        validate_ref_name(self.default_ref)
        if self.type in ("rest", "nessie", "hive") and not self.uri:
            raise InvalidConfig(
                f"a {self.type} catalog needs a uri",
                hint=_URI_HINTS[self.type],
            )
        if self.type == "sql" and not (self.uri and self.warehouse):
            raise InvalidConfig(
                "a sql catalog needs a uri and a warehouse",
                hint="use CatalogSettings.embedded() or set PHLO_LAKEHOUSE_CATALOG_URI "
                "and PHLO_LAKEHOUSE_WAREHOUSE",
            )
        if self.type == "nessie":
            object.__setattr__(self, "uri", nessie_base_uri(self.uri or ""))

    @classmethod
    def embedded(
        cls, home: str | os.PathLike[str] = DEFAULT_HOME, **overrides: Unpack[SettingsFields]
    ) -> CatalogSettings:
        """The embedded default: SQLite catalog and local warehouse under ``home``.

        Example:
            >>> CatalogSettings.embedded("/tmp/x").warehouse
            'file:///tmp/x/warehouse'
        """
        root = Path(home).absolute()
        settings = cls(
            type="sql", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}/warehouse"
        )
        return replace(settings, **overrides) if overrides else settings

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CatalogSettings:
        """Settings from ``PHLO_LAKEHOUSE_*`` variables, then Phlo's, then the embedded default.

        Example:
            >>> CatalogSettings.from_env({}).type
            'sql'
        """
        env = os.environ if env is None else env
        ours = {k[len(_PREFIX) :]: v for k, v in env.items() if k.startswith(_PREFIX) and v != ""}
        properties = {**_phlo_s3_properties(env), **_our_properties(ours)}
        uri = ours.get("CATALOG_URI")
        kind = ours.get("CATALOG_TYPE", "").strip().lower() or _infer_type(uri, env)
        if kind == "nessie" and not uri and env.get("NESSIE_HOST"):
            uri = f"http://{env['NESSIE_HOST']}:{env.get('NESSIE_PORT', '19120')}"
        warehouse = ours.get("WAREHOUSE") or env.get("ICEBERG_WAREHOUSE_PATH") or None
        ref = ours.get("REF") or env.get("ICEBERG_NESSIE_REF") or "main"
        name = ours.get("CATALOG_NAME", DEFAULT_CATALOG_NAME)
        if kind == "sql" and not uri:
            return cls.embedded(
                ours.get("HOME", DEFAULT_HOME), name=name, default_ref=ref, properties=properties
            )
        if kind == "sql" and not warehouse:
            warehouse = f"file://{Path(ours.get('HOME', DEFAULT_HOME)).absolute()}/warehouse"
        return cls(
            type=kind,
            name=name,
            uri=uri,
            warehouse=warehouse,
            default_ref=ref,
            properties=properties,
        )

    def with_ref(self, ref: str) -> CatalogSettings:
        """A copy whose default ref is ``ref``."""
        return replace(self, default_ref=validate_ref_name(ref))

    def describe(self) -> str:
        """A one-line description without secrets, for logs and errors."""
        where = self.uri or self.properties.get("glue.endpoint", "AWS Glue")
        return f"{self.type} catalog {self.name!r} at {_redact(where)}"


_URI_HINTS = {
    "rest": "set PHLO_LAKEHOUSE_CATALOG_URI=http://host:8181 (the REST catalog's base URL)",
    "nessie": "set NESSIE_HOST/NESSIE_PORT or PHLO_LAKEHOUSE_CATALOG_URI=http://host:19120",
    "hive": "set PHLO_LAKEHOUSE_CATALOG_URI=thrift://host:9083",
}


def nessie_base_uri(uri: str) -> str:
    """Normalise a Nessie URL to its server root (strips /iceberg…, /api/v1, /api/v2).

    Example:
        >>> nessie_base_uri("http://n:19120/api/v1/")
        'http://n:19120'
    """
    return re.sub(r"/(iceberg(/.*)?|api(/v[12])?)/?$", "", uri.rstrip("/"))


def _infer_type(uri: str | None, env: Mapping[str, str]) -> str:
    if uri:
        scheme = uri.split(":", 1)[0].lower()
        if scheme.startswith(("sqlite", "postgresql", "mysql")):
            return "sql"
        if scheme == "thrift":
            return "hive"
        if scheme in ("http", "https"):
            return "nessie" if "/api/v" in uri or uri.rstrip("/").endswith("/iceberg") else "rest"
        raise InvalidConfig(
            f"cannot tell the catalog type from uri {_redact(uri)!r}",
            hint="set PHLO_LAKEHOUSE_CATALOG_TYPE to one of " + ", ".join(CATALOG_TYPES),
        )
    return "nessie" if env.get("NESSIE_HOST") else "sql"


def _phlo_s3_properties(env: Mapping[str, str]) -> dict[str, str]:
    props: dict[str, str] = {}
    if env.get("MINIO_HOST"):
        port = env.get("MINIO_API_PORT") or env.get("MINIO_PORT") or "9000"
        props["s3.endpoint"] = f"http://{env['MINIO_HOST']}:{port}"
        props["s3.path-style-access"] = "true"
    if env.get("MINIO_ROOT_USER"):
        props["s3.access-key-id"] = env["MINIO_ROOT_USER"]
    if env.get("MINIO_ROOT_PASSWORD"):
        props["s3.secret-access-key"] = env["MINIO_ROOT_PASSWORD"]
    if props:
        props["s3.region"] = env.get("S3_REGION") or env.get("MINIO_REGION") or "us-east-1"
    return props


_OUR_PROPERTY_VARS = {
    "S3_ENDPOINT": "s3.endpoint",
    "S3_ACCESS_KEY_ID": "s3.access-key-id",
    "S3_SECRET_ACCESS_KEY": "s3.secret-access-key",
    "S3_REGION": "s3.region",
    "GLUE_ENDPOINT": "glue.endpoint",
    "GLUE_REGION": "glue.region",
    "CATALOG_TOKEN": "token",
}


def _our_properties(ours: Mapping[str, str]) -> dict[str, str]:
    props = {prop: ours[var] for var, prop in _OUR_PROPERTY_VARS.items() if var in ours}
    if "S3_ENDPOINT" in ours:
        props.setdefault("s3.path-style-access", "true")
    raw = ours.get("CATALOG_PROPERTIES")
    if raw:
        try:
            extra = json.loads(raw)
        except json.JSONDecodeError as e:
            raise InvalidConfig(
                f"PHLO_LAKEHOUSE_CATALOG_PROPERTIES is not valid JSON ({e.msg})",
                hint='write a JSON object, e.g. {"s3.region": "eu-west-1"}',
            ) from e
        if not isinstance(extra, dict):
            raise InvalidConfig(
                "PHLO_LAKEHOUSE_CATALOG_PROPERTIES must be a JSON object",
                hint='write a JSON object, e.g. {"s3.region": "eu-west-1"}',
            )
        props.update({str(k): str(v) for k, v in extra.items()})
    return props


def _redact(uri: str) -> str:
    return re.sub(r"//[^/@]+@", "//***@", uri)
