#!/usr/bin/env bash
# `make test`: install system packages if missing, start the real services, run every test, stop them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system_deps.sh
bash scripts/spark_jars.sh >/dev/null
bash scripts/services/all.sh start
trap 'bash scripts/services/all.sh stop' EXIT
# shellcheck disable=SC1091
source .services/env.sh
# The Spark Connect client (gRPC) and local Spark sessions (a JVM forked by pyspark) share the
# test process: gRPC's fork handlers must stay out of that fork.
export GRPC_ENABLE_FORK_SUPPORT=false
.venv/bin/python -m pytest -q --timeout=900 --durations=25 "$@"
