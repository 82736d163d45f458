"""Schema compatibility pinned as a table: each mode × each kind of change, decided as a schema
registry (Confluent's Avro rules, optional = nullable with a null default) decides, with fields
matched by Iceberg field id."""

import pytest
from pyiceberg.schema import Schema
from pyiceberg.types import (
    BooleanType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    NestedField,
    StringType,
    StructType,
)

from phlo_lakehouse import InvalidInput
from phlo_lakehouse.schema import MODES, check_compatibility


def f(fid, name, kind, required=False):
    return NestedField(fid, name, kind, required=required)


BASE = [
    f(1, "id", LongType(), True),
    f(2, "name", StringType()),
    f(3, "count", IntegerType()),
    f(4, "score", FloatType()),
    f(5, "amount", DecimalType(10, 2)),
    f(6, "flag", BooleanType(), True),
    f(7, "loc", StructType(f(8, "lat", DoubleType()))),
]


def v1() -> Schema:
    return Schema(*BASE, schema_id=0)


def changed(replace=None, drop=(), add=(), schema_id=1) -> Schema:
    replace = replace or {}
    fields = [replace.get(x.field_id, x) for x in BASE if x.field_id not in drop]
    return Schema(*fields, *add, schema_id=schema_id)


LOC_WITH = lambda alt: f(7, "loc", StructType(f(8, "lat", DoubleType()), alt))  # noqa: E731

#: change -> (new schema, BACKWARD, FORWARD, FULL)
CASES = {
    "add_optional": (changed(add=[f(9, "note", StringType())]), True, True, True),
    "add_required": (changed(add=[f(9, "note", StringType(), True)]), False, True, False),
    "add_nested_optional": (changed({7: LOC_WITH(f(9, "alt", DoubleType()))}), True, True, True),
    "add_nested_required": (
        changed({7: LOC_WITH(f(9, "alt", DoubleType(), True))}),
        False,
        True,
        False,
    ),
    "remove_optional": (changed(drop=[2]), True, True, True),
    "remove_required": (changed(drop=[6]), True, False, False),
    "widen_int_to_long": (changed({3: f(3, "count", LongType())}), True, False, False),
    "widen_float_to_double": (changed({4: f(4, "score", DoubleType())}), True, False, False),
    "widen_decimal_precision": (
        changed({5: f(5, "amount", DecimalType(12, 2))}),
        True,
        False,
        False,
    ),
    "narrow_long_to_int": (changed({1: f(1, "id", IntegerType(), True)}), False, True, False),
    "change_string_to_int": (changed({2: f(2, "name", IntegerType())}), False, False, False),
    "change_decimal_scale": (
        changed({5: f(5, "amount", DecimalType(12, 3))}),
        False,
        False,
        False,
    ),
    "optional_to_required": (changed({2: f(2, "name", StringType(), True)}), False, True, False),
    "required_to_optional": (changed({6: f(6, "flag", BooleanType())}), True, False, False),
    "rename_optional": (changed({2: f(2, "full_name", StringType())}), True, True, True),
    "struct_to_primitive": (changed({7: f(7, "loc", StringType())}), False, False, False),
}

TABLE = [
    pytest.param(
        change, mode, expected[["BACKWARD", "FORWARD", "FULL"].index(base)], id=f"{change}-{mode}"
    )
    for change, (_, *expected) in CASES.items()
    for mode in MODES
    if mode != "NONE"
    for base in [mode.removesuffix("_TRANSITIVE")]
]


@pytest.mark.parametrize(("change", "mode", "compatible"), TABLE)
def test_compatibility_table(change, mode, compatible):
    new = CASES[change][0]
    report = check_compatibility(new, [v1()], mode)
    assert report.compatible is compatible, [b.reason for b in report.breaking]
    assert report.checked_against == (0,)
    for breaking in report.breaking:  # every break says what, where and why
        assert breaking.reason and breaking.path and breaking.against_schema_id == 0
        assert breaking.direction in ("backward", "forward")


@pytest.mark.parametrize("change", list(CASES))
def test_none_mode_accepts_everything(change):
    assert check_compatibility(CASES[change][0], [v1()], "NONE").compatible


def test_reasons_name_the_field_and_the_rule():
    report = check_compatibility(CASES["change_string_to_int"][0], [v1()], "FULL")
    assert {b.direction for b in report.breaking} == {"backward", "forward"}
    assert all(b.path == "name" and "string" in b.reason for b in report.breaking)
    (added,) = check_compatibility(CASES["add_required"][0], [v1()], "BACKWARD").breaking
    assert "required field note was added without a default" in added.reason
    (removed,) = check_compatibility(CASES["remove_required"][0], [v1()], "FORWARD").breaking
    assert "required field flag was removed" in removed.reason


def test_a_required_rename_is_compatible_because_fields_match_by_id():
    renamed = changed({1: f(1, "key", LongType(), True)})
    assert check_compatibility(renamed, [v1()], "FULL_TRANSITIVE").compatible


def test_transitive_modes_check_every_earlier_version():
    # v2 drops `name` (fine both ways), v3 brings field id 2 back as an int: compatible with
    # v2, which never had it, but not with v1, which wrote it as a string.
    v2 = changed(drop=[2], schema_id=1)
    v3 = changed({2: f(2, "name", IntegerType())}, schema_id=2)
    history = [v1(), v2]
    for base in ("BACKWARD", "FORWARD", "FULL"):
        assert check_compatibility(v3, history, base).compatible
        transitive = check_compatibility(v3, history, f"{base}_TRANSITIVE")
        assert not transitive.compatible and transitive.checked_against == (0, 1)
        assert {b.against_schema_id for b in transitive.breaking} == {0}


def test_unknown_mode_is_one_line_with_a_hint():
    with pytest.raises(InvalidInput) as info:
        check_compatibility(v1(), [v1()], "SIDEWAYS")
    assert "\n" not in str(info.value) and "BACKWARD" in info.value.hint
    assert check_compatibility(v1(), [v1()], "full_transitive").mode == "FULL_TRANSITIVE"
