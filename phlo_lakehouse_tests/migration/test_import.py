"""Importing the migration package stays light: PyIceberg, pyarrow, thrift and boto3 load on use."""

import json
import subprocess
import sys


def test_importing_the_migration_package_loads_no_heavy_module():
    code = (
        "import json, sys\n"
        "import phlo_lakehouse.migration\n"
        "heavy = ('pyiceberg', 'pyarrow', 'thrift', 'hive_metastore', 'boto3', 'pyspark')\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
