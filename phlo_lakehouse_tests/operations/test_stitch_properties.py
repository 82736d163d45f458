"""Property: over random schemas, row counts and row-group/page sizes, a stitched file reads back
exactly as its input files read one after the other (pyarrow reading the inputs is the oracle),
and the table reads the same rows through PyIceberg."""

import tempfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.live_files import live_files
from phlo_lakehouse.operations.optimize import OptimizeOperation
from phlo_lakehouse.storage.listing import normalize_location


def _types():
    from pyiceberg.types import (
        BinaryType,
        BooleanType,
        DateType,
        DecimalType,
        DoubleType,
        FloatType,
        IntegerType,
        ListType,
        LongType,
        NestedField,
        StringType,
        StructType,
        TimestamptzType,
    )

    ints = st.integers(-(2**31), 2**31 - 1)
    return {
        "long": (lambda i: LongType(), st.integers(-(2**63), 2**63 - 1)),
        "int": (lambda i: IntegerType(), ints),
        "double": (lambda i: DoubleType(), st.floats(allow_nan=False, width=64)),
        "float": (lambda i: FloatType(), st.floats(allow_nan=False, width=32)),
        "string": (lambda i: StringType(), st.text(max_size=12)),
        "bool": (lambda i: BooleanType(), st.booleans()),
        "date": (
            lambda i: DateType(),
            st.dates(min_value=date(1970, 1, 1), max_value=date(2100, 1, 1)),
        ),
        "timestamptz": (
            lambda i: TimestamptzType(),
            st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1)).map(
                lambda d: d.replace(tzinfo=__import__("datetime").UTC)
            ),
        ),
        "decimal": (
            lambda i: DecimalType(12, 2),
            st.decimals(min_value=-(10**9), max_value=10**9, places=2).map(Decimal),
        ),
        "binary": (lambda i: BinaryType(), st.binary(max_size=10)),
        "list": (
            lambda i: ListType(
                element_id=i + 1000, element_type=LongType(), element_required=False
            ),
            st.lists(st.one_of(st.none(), st.integers(-100, 100)), max_size=4),
        ),
        "struct": (
            lambda i: StructType(
                NestedField(i + 2000, "x", LongType(), required=False),
                NestedField(i + 3000, "y", StringType(), required=False),
            ),
            st.fixed_dictionaries(
                {"x": st.one_of(st.none(), st.integers(-5, 5)), "y": st.text(max_size=3)}
            ),
        ),
    }


TYPES = _types()


@st.composite
def tables(draw):
    kinds = draw(st.lists(st.sampled_from(sorted(TYPES)), min_size=1, max_size=5))
    nullable = draw(st.lists(st.booleans(), min_size=len(kinds), max_size=len(kinds)))
    files = draw(st.lists(st.integers(1, 60), min_size=1, max_size=4))
    rows = []
    for count in files:
        batch = []
        for _ in range(count):
            row = {}
            for i, kind in enumerate(kinds):
                values = TYPES[kind][1]
                row[f"c{i}"] = draw(st.one_of(st.none(), values) if nullable[i] else values)
            batch.append(row)
        rows.append(batch)
    row_group_rows = draw(st.integers(1, 40))
    page_bytes = draw(st.sampled_from([64, 1024, 1 << 20]))
    return kinds, nullable, rows, row_group_rows, page_bytes


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(tables())
def test_stitched_files_read_back_equal_to_their_inputs(case):
    from pyiceberg.schema import Schema
    from pyiceberg.types import NestedField

    kinds, nullable, batches, row_group_rows, page_bytes = case
    schema = Schema(
        *(
            NestedField(i + 1, f"c{i}", TYPES[k][0](i), required=not nullable[i])
            for i, k in enumerate(kinds)
        )
    )
    with tempfile.TemporaryDirectory() as home:
        lakehouse = IcebergLakehouse(CatalogSettings.embedded(Path(home)))
        catalog = lakehouse.catalog()
        catalog.create_namespace("p")
        table = catalog.create_table(
            "p.t",
            schema=schema,
            properties={
                "write.parquet.row-group-limit": str(row_group_rows),
                "write.parquet.page-size-bytes": str(page_bytes),
            },
        )
        arrow_schema = table.schema().as_arrow()
        for batch in batches:
            table.append(pa.Table.from_pylist(batch, schema=arrow_schema))
        handle = lakehouse.get_table("p.t")
        inputs = sorted(f.path for f in live_files(handle.table, handle.snapshot).data)
        expected = pa.concat_tables([pq.read_table(_local(p)) for p in inputs]).to_pylist()
        expected_groups = sum(pq.read_metadata(_local(p)).num_row_groups for p in inputs)

        op = OptimizeOperation(stitch="always", rewrite_all=True, min_input_files=1)
        result = OperationExecutor(lakehouse).run(op, "p.t")

        assert result.details["stitched_groups"] == 1, result.details["decode_reasons"]
        after = lakehouse.get_table("p.t")
        outputs = [f.path for f in live_files(after.table, after.snapshot).data]
        assert len(outputs) == 1
        stitched = pq.ParquetFile(_local(outputs[0]))
        assert stitched.metadata.num_row_groups == expected_groups
        assert stitched.read().to_pylist() == expected
        assert sorted(map(repr, after.to_arrow().to_pylist())) == sorted(map(repr, expected))


def _local(uri: str) -> str:
    return normalize_location(uri)[2]
