#!/usr/bin/env bash
# Fetch the jars the Spark cross-engine tests put on Spark's classpath, cached in the local
# Maven repository (quick and offline once cached):
#
#   org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:$ICEBERG_SPARK_VERSION   (default 1.10.2)
#   org.xerial:sqlite-jdbc:$SQLITE_JDBC_VERSION                                (default 3.50.3.0)
#
#   bash scripts/spark_jars.sh            # prints the colon-separated classpath on stdout
#
# Also writes the jar paths, one per line, to $PHLO_SERVICES_DIR/spark-jars.txt (default
# <repo>/.services/spark-jars.txt), where the `spark` test fixture looks for them
# (PHLO_TEST_SPARK_JARS, a colon-separated list, overrides that file).
# Environment: MAVEN_REPO (default ~/.m2/repository), ICEBERG_SPARK_VERSION, SQLITE_JDBC_VERSION.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES_DIR="${PHLO_SERVICES_DIR:-$REPO_ROOT/.services}"
MAVEN_REPO="${MAVEN_REPO:-$HOME/.m2/repository}"
ICEBERG_SPARK_VERSION="${ICEBERG_SPARK_VERSION:-1.10.2}"
SQLITE_JDBC_VERSION="${SQLITE_JDBC_VERSION:-3.50.3.0}"
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

ARTIFACTS=(
  "org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:$ICEBERG_SPARK_VERSION"
  "org.xerial:sqlite-jdbc:$SQLITE_JDBC_VERSION"
  "org.apache.iceberg:iceberg-aws-bundle:${ICEBERG_AWS_BUNDLE_VERSION:-1.10.1}"
)

# jar_path GROUP:ARTIFACT:VERSION -> the jar's path in the local Maven repository.
jar_path() {
  local group artifact version
  IFS=: read -r group artifact version <<<"$1"
  printf '%s/%s/%s/%s/%s-%s.jar\n' \
    "$MAVEN_REPO" "${group//.//}" "$artifact" "$version" "$artifact" "$version"
}

jars=()
for coordinates in "${ARTIFACTS[@]}"; do
  jar="$(jar_path "$coordinates")"
  if [[ ! -s "$jar" ]]; then
    command -v mvn >/dev/null 2>&1 || { echo "spark_jars: mvn not found" >&2; exit 1; }
    echo "spark_jars: fetching $coordinates" >&2
    mvn -q -B -C -Dstyle.color=never "$DEPENDENCY_PLUGIN:get" -Dtransitive=false \
      -Dmaven.repo.local="$MAVEN_REPO" -Dartifact="$coordinates" >&2 \
      || { echo "spark_jars: mvn could not fetch $coordinates" >&2; exit 1; }
    [[ -s "$jar" ]] || { echo "spark_jars: mvn did not produce $jar" >&2; exit 1; }
  fi
  jars+=("$jar")
done

mkdir -p "$SERVICES_DIR"
[[ -f "$SERVICES_DIR/.gitignore" ]] || printf '*\n' >"$SERVICES_DIR/.gitignore"
printf '%s\n' "${jars[@]}" >"$SERVICES_DIR/spark-jars.txt.tmp"
mv "$SERVICES_DIR/spark-jars.txt.tmp" "$SERVICES_DIR/spark-jars.txt"
(IFS=:; echo "${jars[*]}")
