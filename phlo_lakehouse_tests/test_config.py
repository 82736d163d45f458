from pathlib import Path

import pytest

from phlo_lakehouse import CatalogSettings, InvalidConfig, InvalidRefName
from phlo_lakehouse.catalogs import catalog_properties


def test_empty_environment_gives_the_embedded_sqlite_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = CatalogSettings.from_env({})
    assert settings.type == "sql"
    assert settings.uri == f"sqlite:///{tmp_path}/.lakehouse/catalog.db"
    assert settings.warehouse == f"file://{tmp_path}/.lakehouse/warehouse"
    assert settings.default_ref == "main"


def test_phlo_variables_configure_nessie_and_minio():
    env = {
        "NESSIE_HOST": "nessie",
        "NESSIE_PORT": "10003",
        "MINIO_HOST": "minio",
        "MINIO_API_PORT": "10001",
        "MINIO_ROOT_USER": "minio",
        "MINIO_ROOT_PASSWORD": "minio123",
        "ICEBERG_WAREHOUSE_PATH": "s3://lake/warehouse",
        "ICEBERG_NESSIE_REF": "dev",
    }
    settings = CatalogSettings.from_env(env)
    assert settings.type == "nessie"
    assert settings.uri == "http://nessie:10003"
    assert settings.warehouse == "s3://lake/warehouse"
    assert settings.default_ref == "dev"
    props = catalog_properties(settings)
    assert props["uri"] == "http://nessie:10003/iceberg/dev"
    assert props["s3.endpoint"] == "http://minio:10001"
    assert props["s3.access-key-id"] == "minio"
    assert props["s3.secret-access-key"] == "minio123"
    assert props["s3.path-style-access"] == "true"


def test_our_variables_take_precedence_over_phlo_ones():
    env = {
        "NESSIE_HOST": "nessie",
        "PHLO_LAKEHOUSE_CATALOG_TYPE": "rest",
        "PHLO_LAKEHOUSE_CATALOG_URI": "http://rest:8181",
        "MINIO_HOST": "minio",
        "PHLO_LAKEHOUSE_S3_ENDPOINT": "http://s3:9000",
        "PHLO_LAKEHOUSE_CATALOG_PROPERTIES": '{"token": "abc"}',
        "PHLO_LAKEHOUSE_REF": "main",
    }
    settings = CatalogSettings.from_env(env)
    assert settings.type == "rest"
    props = catalog_properties(settings)
    assert props["uri"] == "http://rest:8181"
    assert props["s3.endpoint"] == "http://s3:9000"
    assert props["token"] == "abc"


def test_uri_scheme_infers_the_catalog_type():
    assert (
        CatalogSettings.from_env({"PHLO_LAKEHOUSE_CATALOG_URI": "thrift://hms:9083"}).type == "hive"
    )
    pg = CatalogSettings.from_env(
        {
            "PHLO_LAKEHOUSE_CATALOG_URI": "postgresql+psycopg2://u@h/db",
            "PHLO_LAKEHOUSE_HOME": "/tmp/x",
        }
    )
    assert (pg.type, pg.warehouse) == ("sql", "file:///tmp/x/warehouse")
    nessie = CatalogSettings.from_env({"PHLO_LAKEHOUSE_CATALOG_URI": "http://n:19120/api/v2"})
    assert (nessie.type, nessie.uri) == ("nessie", "http://n:19120")


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"PHLO_LAKEHOUSE_CATALOG_TYPE": "oracle"}, "not supported"),
        ({"PHLO_LAKEHOUSE_CATALOG_TYPE": "rest"}, "needs a uri"),
        ({"PHLO_LAKEHOUSE_CATALOG_TYPE": "hive"}, "needs a uri"),
        ({"PHLO_LAKEHOUSE_CATALOG_URI": "ftp://x"}, "cannot tell the catalog type"),
        ({"PHLO_LAKEHOUSE_CATALOG_PROPERTIES": "{nope"}, "not valid JSON"),
        ({"PHLO_LAKEHOUSE_CATALOG_PROPERTIES": "[1]"}, "JSON object"),
    ],
)
def test_bad_config_raises_invalid_config_with_hint(env, fragment):
    with pytest.raises(InvalidConfig) as info:
        CatalogSettings.from_env(env)
    assert fragment in str(info.value)
    assert info.value.hint


def test_bad_default_ref_is_rejected():
    with pytest.raises(InvalidRefName):
        CatalogSettings.from_env({"PHLO_LAKEHOUSE_REF": "no spaces allowed"})


def test_credentials_are_redacted_in_descriptions():
    s = CatalogSettings(type="sql", uri="postgresql://user:secret@db/x", warehouse="file:///w")
    assert "secret" not in s.describe()


def test_embedded_settings_do_not_touch_disk(tmp_path):
    CatalogSettings.embedded(tmp_path / "never")
    assert not Path(tmp_path / "never").exists()
