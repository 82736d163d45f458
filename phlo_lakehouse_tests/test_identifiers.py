import pytest

from phlo_lakehouse import (
    InvalidIdentifier,
    InvalidRefName,
    TableIdentifier,
    TableSelector,
    parse_namespace,
    parse_table_identifier,
    validate_ref_name,
)
from phlo_lakehouse.identifiers import select_tables


def test_parse_identifier_splits_namespace_levels():
    assert parse_table_identifier("a.b.events") == TableIdentifier(("a", "b"), "events")
    assert parse_table_identifier(("raw", "t")).as_tuple() == ("raw", "t")
    assert str(parse_table_identifier("raw.t")) == "raw.t"


@pytest.mark.parametrize(
    "bad", ["", "events", "raw.", ".events", "raw..events", "raw.ev ents", "raw.e;x"]
)
def test_malformed_identifiers_raise_invalid_identifier_with_hint(bad):
    with pytest.raises(InvalidIdentifier) as info:
        parse_table_identifier(bad)
    assert "namespace.table" in info.value.hint


def test_parse_namespace():
    assert parse_namespace("a.b") == ("a", "b")
    with pytest.raises(InvalidIdentifier):
        parse_namespace("")


@pytest.mark.parametrize("good", ["main", "dev", "etl/2026-11-25", "feature_x", "v1.2"])
def test_valid_ref_names(good):
    assert validate_ref_name(good) == good


@pytest.mark.parametrize("bad", ["", "bad ref", "-x", "x/", "a..b", "1abc", "a//b", "ref~1"])
def test_invalid_ref_names_raise(bad):
    with pytest.raises(InvalidRefName) as info:
        validate_ref_name(bad)
    assert "start with a letter" in info.value.hint


def test_selectors_match_by_level_and_wildcard():
    tables = [parse_table_identifier(t) for t in ["raw.a", "raw.b", "mart.a", "x.y.z"]]
    assert [str(t) for t in select_tables(["raw.*"], tables)] == ["raw.a", "raw.b"]
    assert [str(t) for t in select_tables(["*.a"], tables)] == ["mart.a", "raw.a"]
    assert [str(t) for t in select_tables(["*.*.*"], tables)] == ["x.y.z"]
    assert TableSelector.parse("raw.*").namespace_prefix == ("raw",)
    assert TableSelector.parse("raw.events").is_literal


@pytest.mark.parametrize("bad", ["raw", "raw.", "ra w.*", ""])
def test_malformed_selectors_raise(bad):
    with pytest.raises(InvalidIdentifier):
        TableSelector.parse(bad)
