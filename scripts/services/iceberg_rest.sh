#!/usr/bin/env bash
# An Apache Iceberg REST catalog (Iceberg 1.10's own REST test server over a JdbcCatalog on
# SQLite, S3FileIO on moto) on 127.0.0.1:$PHLO_TEST_ICEBERG_REST_PORT (default 21181), served
# at / and under /iceberg/main (the URI shape phlo-iceberg requires: the ref after /iceberg).
# Nessie's Iceberg endpoint keeps one snapshot per table; this one keeps the whole history,
# which phlo-iceberg's snapshot-expiry planning (phlo-dagster's expire job) needs.
#
#   scripts/services/iceberg_rest.sh start|stop|status|restart|url|env
#
# Needs moto (its warehouse is s3://warehouse/iceberg-rest/). The jars come from Maven Central
# into the local Maven repository (once; offline afterwards); a small launcher of ours
# (scripts/services/iceberg_rest/LoopbackRestCatalog.java, compiled with javac at start) binds
# the server to 127.0.0.1 — Iceberg's RESTCatalogServer listens on every interface. The catalog
# database is recreated on every start.
#
# Environment:
#   PHLO_TEST_ICEBERG_REST_PORT  HTTP port (default 21181)
#   PHLO_TEST_MOTO_PORT          the moto server's port (default 21000)
#   ICEBERG_REST_JAVA            java binary (default: $JAVA_HOME/bin/java, else java; 11+)
#   MAVEN_REPO                   local Maven repository (default ~/.m2/repository)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$SCRIPT_DIR/lib.sh"

SVC_NAME=iceberg_rest
REST_PORT="${PHLO_TEST_ICEBERG_REST_PORT:-21181}"
REST_URI="http://$PHLO_SERVICES_HOST:$REST_PORT"
MOTO_ENDPOINT="http://$PHLO_SERVICES_HOST:${PHLO_TEST_MOTO_PORT:-21000}"
REST_HOME_DIR="$PHLO_SERVICES_DIR/iceberg_rest"
LAUNCHER_SRC="$SCRIPT_DIR/iceberg_rest/LoopbackRestCatalog.java"
MAVEN_REPO="${MAVEN_REPO:-$HOME/.m2/repository}"
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
ICEBERG=1.10.0
JETTY=11.0.24
# GROUP:ARTIFACT:VERSION[:CLASSIFIER] — the server's whole class path (resolved once with
# `mvn dependency:list` from iceberg-core, its tests jar, iceberg-aws(-bundle), jetty-servlet 11,
# hadoop-client-api/runtime and sqlite-jdbc).
ARTIFACTS=(
  "org.apache.iceberg:iceberg-api:$ICEBERG" "org.apache.iceberg:iceberg-common:$ICEBERG"
  "org.apache.iceberg:iceberg-core:$ICEBERG" "org.apache.iceberg:iceberg-core:$ICEBERG:tests"
  "org.apache.iceberg:iceberg-bundled-guava:$ICEBERG" "org.apache.iceberg:iceberg-aws:$ICEBERG"
  "org.apache.iceberg:iceberg-aws-bundle:$ICEBERG"
  "org.eclipse.jetty:jetty-server:$JETTY" "org.eclipse.jetty:jetty-servlet:$JETTY"
  "org.eclipse.jetty:jetty-http:$JETTY" "org.eclipse.jetty:jetty-io:$JETTY"
  "org.eclipse.jetty:jetty-util:$JETTY" "org.eclipse.jetty:jetty-security:$JETTY"
  "org.eclipse.jetty.toolchain:jetty-jakarta-servlet-api:5.0.2"
  "org.apache.hadoop:hadoop-client-api:3.3.6" "org.apache.hadoop:hadoop-client-runtime:3.3.6"
  "com.fasterxml.jackson.core:jackson-annotations:2.19.2"
  "com.fasterxml.jackson.core:jackson-core:2.19.2"
  "com.fasterxml.jackson.core:jackson-databind:2.19.2"
  "com.github.ben-manes.caffeine:caffeine:2.9.3" "org.checkerframework:checker-qual:3.19.0"
  "com.google.errorprone:error_prone_annotations:2.10.0" "com.google.code.findbugs:jsr305:3.0.2"
  "org.apache.httpcomponents.client5:httpclient5:5.5"
  "org.apache.httpcomponents.core5:httpcore5:5.3.4"
  "org.apache.httpcomponents.core5:httpcore5-h2:5.3.4"
  "org.apache.avro:avro:1.12.0" "org.apache.commons:commons-compress:1.26.2"
  "org.apache.commons:commons-lang3:3.14.0" "commons-codec:commons-codec:1.17.0"
  "commons-io:commons-io:2.16.1" "commons-logging:commons-logging:1.1.3"
  "dev.failsafe:failsafe:3.3.2" "io.airlift:aircompressor:0.27"
  "org.roaringbitmap:RoaringBitmap:1.3.0" "org.xerial.snappy:snappy-java:1.1.8.2"
  "org.slf4j:slf4j-api:2.0.17" "org.slf4j:slf4j-simple:2.0.16"
  "org.xerial:sqlite-jdbc:${SQLITE_JDBC_VERSION:-3.50.3.0}"
)

# jar_path GROUP:ARTIFACT:VERSION[:CLASSIFIER] -> the jar in the local Maven repository.
jar_path() {
  local group artifact version classifier
  IFS=: read -r group artifact version classifier <<<"$1"
  printf '%s/%s/%s/%s/%s-%s%s.jar\n' "$MAVEN_REPO" "${group//.//}" "$artifact" "$version" \
    "$artifact" "$version" "${classifier:+-$classifier}"
}

# Prints the class path, fetching missing jars (one `mvn dependency:get` each).
class_path() {
  local coordinates jar group artifact version classifier
  local -a jars=()
  for coordinates in "${ARTIFACTS[@]}"; do
    jar="$(jar_path "$coordinates")"
    if [[ ! -s "$jar" ]]; then
      command -v mvn >/dev/null 2>&1 || svc_die "mvn not found (scripts/system_deps.sh installs it)"
      IFS=: read -r group artifact version classifier <<<"$coordinates"
      svc_log "fetching $coordinates"
      mvn -q -B -C -Dstyle.color=never "$DEPENDENCY_PLUGIN:get" -Dtransitive=false \
        -Dmaven.repo.local="$MAVEN_REPO" \
        -Dartifact="$group:$artifact:$version:jar${classifier:+:$classifier}" \
        >>"$(log_file "$SVC_NAME")" 2>&1 || svc_die "mvn could not fetch $coordinates"
      [[ -s "$jar" ]] || svc_die "mvn did not produce $jar"
    fi
    jars+=("$jar")
  done
  (IFS=:; printf '%s\n' "${jars[*]}")
}

start() {
  local pid java cp
  ensure_state_dir
  if pid="$(running_pid "$SVC_NAME")"; then
    svc_log "already running (pid $pid)"
    printf '%s/iceberg/main\n' "$REST_URI"
    return 0
  fi
  require_port_free "$SVC_NAME" "$REST_PORT"
  : >"$(log_file "$SVC_NAME")"
  java="$(java_binary "${ICEBERG_REST_JAVA:-}")" || svc_die "no java found; set ICEBERG_REST_JAVA or JAVA_HOME (Java 11+)"
  cp="$(class_path)"
  compile_java_launcher "$SVC_NAME" "$java" "$cp" "$LAUNCHER_SRC"
  rm -rf "$REST_HOME_DIR/db"
  mkdir -p "$REST_HOME_DIR/db"
  svc_log "starting the Iceberg REST catalog ($java) on $REST_URI"
  start_daemon "$SVC_NAME" env \
    CATALOG_URI="jdbc:sqlite:$REST_HOME_DIR/db/catalog.db" \
    CATALOG_WAREHOUSE="s3://warehouse/iceberg-rest" \
    CATALOG_IO__IMPL=org.apache.iceberg.aws.s3.S3FileIO \
    CATALOG_S3_ENDPOINT="$MOTO_ENDPOINT" \
    CATALOG_S3_PATH__STYLE__ACCESS=true \
    CATALOG_CLIENT_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID="${PHLO_TEST_S3_ACCESS_KEY_ID:-testing}" \
    AWS_SECRET_ACCESS_KEY="${PHLO_TEST_S3_SECRET_ACCESS_KEY:-testing}" \
    AWS_REGION=us-east-1 \
    "$java" -Xms64m -Xmx512m -cp "$REST_HOME_DIR/classes:$cp" \
    LoopbackRestCatalog "$PHLO_SERVICES_HOST" "$REST_PORT"
  pid="$DAEMON_PID"
  wait_for_http "$REST_URI/iceberg/main/v1/config" "$PHLO_START_TIMEOUT" "$pid" ||
    start_failed "$SVC_NAME" "the REST catalog did not answer on $REST_URI/iceberg/main/v1/config"
  svc_log "ready (pid $pid): $REST_URI/iceberg/main"
  printf '%s/iceberg/main\n' "$REST_URI"
}

print_env() {
  printf 'export PHLO_TEST_ICEBERG_REST_PORT=%q\n' "$REST_PORT"
  # phlo-iceberg appends the ref to its catalog URI: PHLO_ICEBERG_CATALOG_URI is the base.
  printf 'export PHLO_TEST_ICEBERG_REST_BASE=%q\n' "$REST_URI/iceberg"
  printf 'export PHLO_TEST_ICEBERG_REST_CATALOG=%q\n' "$REST_URI/iceberg/main"
}

case "${1:-}" in
  start) start ;;
  stop) stop_service "$SVC_NAME" TERM ;;
  status) status_service "$SVC_NAME" "$REST_PORT" ;;
  restart) stop_service "$SVC_NAME" TERM && start ;;
  url) printf '%s/iceberg/main\n' "$REST_URI" ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|status|restart|url|env" >&2 && exit 2 ;;
esac
