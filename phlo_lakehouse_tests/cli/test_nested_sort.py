"""``optimize --sort-by loc.lat`` / ``--zorder-by loc.lat`` on a struct field: the dry run and
the real run agree, no row is lost and the rewritten files are ordered by the nested value (read
back with PyArrow, not the code under test); a list element is refused in the plan."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyiceberg.schema import Schema
from pyiceberg.types import DoubleType, ListType, LongType, NestedField, StructType

from phlo_lakehouse.testing.cli import CLITestCase

SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=False),
    NestedField(
        2,
        "loc",
        StructType(
            NestedField(3, "lat", DoubleType(), required=False),
            NestedField(4, "lon", DoubleType(), required=False),
        ),
        required=False,
    ),
    NestedField(5, "tags", ListType(6, LongType(), element_required=False), required=False),
)


class TestNestedSort(CLITestCase):
    def _nested_table(self):
        catalog = self.lakehouse.catalog()
        catalog.create_namespace_if_not_exists("geo")
        table = catalog.create_table("geo.places", schema=SCHEMA)
        arrow_schema = table.schema().as_arrow()
        for commit in range(4):
            ids = list(range(commit * 10, commit * 10 + 10))
            rows = {
                "id": ids,
                "loc": [{"lat": float((i * 37) % 101), "lon": float(i)} for i in ids],
                "tags": [[i] for i in ids],
            }
            table.append(pa.Table.from_pydict(rows, schema=arrow_schema))
        return table

    @pytest.mark.parametrize("flag", ["--sort-by", "--zorder-by"])
    def test_nested_field_dry_run_and_real_run_agree(self, flag):
        table = self._nested_table()
        before = sorted(table.scan().to_arrow()["id"].to_pylist())
        dry = self.invoke_command(
            ["optimize", "geo.places", flag, "loc.lat", "--rewrite-all", "--dry-run"]
        )
        self.assert_success(dry)
        real = self.invoke_command(
            ["optimize", "geo.places", flag, "loc.lat", "--rewrite-all", "--yes"]
        )
        self.assert_success(real)
        table.refresh()
        rows = table.scan().to_arrow()
        assert sorted(rows["id"].to_pylist()) == before
        files = list(table.inspect.files().to_pylist())
        assert len(files) == 1
        lats = [r["lat"] for r in rows["loc"].to_pylist()]
        assert lats == sorted(lats)

    def test_list_element_is_refused_in_the_plan(self):
        self._nested_table()
        result = self.invoke_command(
            ["optimize", "geo.places", "--sort-by", "tags.element", "--dry-run"]
        )
        self.assert_exit_code(result, 2)
        assert "inside the list 'tags'" in result.stderr.splitlines()[0]
