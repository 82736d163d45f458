#!/usr/bin/env bash
# PostgreSQL for the integration tests: a fresh throw-away cluster in
# $PHLO_SERVICES_DIR/postgres, listening on 127.0.0.1:$PHLO_TEST_POSTGRES_PORT
# (default 21432) with trust auth, and a database "lakehouse" owned by
# "postgres".
#
#   scripts/services/postgres.sh start|stop|status|restart|url
#
# On start it prints the SQLAlchemy URL on stdout.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SVC_NAME=postgres
PG_PORT="${PHLO_TEST_POSTGRES_PORT:-21432}"
PG_DB=lakehouse
PG_USER=postgres
PG_HOME="$PHLO_SERVICES_DIR/postgres"
PG_DATA="$PG_HOME/data"
PG_SOCKET_DIR="$PG_HOME/run"
PG_URL="postgresql+psycopg2://$PG_USER@$PHLO_SERVICES_HOST:$PG_PORT/$PG_DB"

# Directory with initdb/pg_ctl/postgres: $PG_BIN, else the newest
# /usr/lib/postgresql/<major>/bin, else whatever is on PATH.
find_pg_bin() {
  local d
  if [[ -n "${PG_BIN:-}" && -x "$PG_BIN/initdb" ]]; then
    printf '%s\n' "$PG_BIN"
    return 0
  fi
  d="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1)"
  if [[ -n "$d" && -x "$d/initdb" ]]; then
    printf '%s\n' "$d"
    return 0
  fi
  if command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return 0
  fi
  return 1
}

ensure_pg_bin() {
  if PG_BIN="$(find_pg_bin)"; then
    return 0
  fi
  if [[ "$(id -u)" -ne 0 ]]; then
    svc_die "PostgreSQL server binaries not found and not root: install the 'postgresql' package or set PG_BIN"
  fi
  svc_log "PostgreSQL binaries not found: apt-get install -y postgresql"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  PG_BIN="$(find_pg_bin)" || svc_die "PostgreSQL binaries still missing after apt-get install"
}

# Run a command as the OS user that owns the cluster.  PostgreSQL refuses
# to run as root, so when we are root we switch to "postgres".
as_pg() {
  if [[ "$(id -u)" -eq 0 ]]; then
    # runuser lives in /usr/sbin, which a minimal PATH (env -i, some CI runners) leaves out.
    "$(command -v runuser || echo /usr/sbin/runuser)" -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_pid() {
  local pid
  if [[ -f "$PG_DATA/postmaster.pid" ]]; then
    pid="$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && pid_alive "$pid"; then
      printf '%s\n' "$pid"
      return 0
    fi
  fi
  running_pid "$SVC_NAME"
}

start() {
  local lf pid
  ensure_state_dir
  lf="$(log_file "$SVC_NAME")"
  if pid="$(pg_pid)"; then
    svc_log "already running (pid $pid)"
    printf '%s\n' "$PG_URL"
    return 0
  fi
  require_port_free "$SVC_NAME" "$PG_PORT"
  ensure_pg_bin
  : >"$lf"

  # A fresh cluster on every start.
  rm -rf "$PG_HOME"
  mkdir -p "$PG_DATA" "$PG_SOCKET_DIR"
  chmod 700 "$PG_DATA"
  if [[ "$(id -u)" -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || svc_die "OS user 'postgres' does not exist"
    chown -R postgres:postgres "$PG_HOME"
    chown postgres "$lf"
  fi

  svc_log "initdb $PG_DATA ($PG_BIN)"
  if ! as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_USER" --auth=trust \
    --encoding=UTF8 --locale=C --no-sync >>"$lf" 2>&1; then
    start_failed "$SVC_NAME" "initdb failed"
  fi
  # Loopback only, trust for local socket and loopback TCP (initdb --auth=trust
  # already writes trust lines; make them explicit and exclusive).
  cat >"$PG_DATA/pg_hba.conf" <<'EOF'
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   trust
host    all       all   ::1/128        trust
EOF
  cat >>"$PG_DATA/postgresql.conf" <<EOF

# --- phlo_lakehouse test service ---
listen_addresses = '$PHLO_SERVICES_HOST'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  if [[ "$(id -u)" -eq 0 ]]; then
    chown postgres:postgres "$PG_DATA/pg_hba.conf" "$PG_DATA/postgresql.conf"
  fi

  svc_log "starting on $PHLO_SERVICES_HOST:$PG_PORT"
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$lf" -w -t "$PHLO_START_TIMEOUT" start >/dev/null; then
    start_failed "$SVC_NAME" "pg_ctl start failed"
  fi
  pid="$(head -n 1 "$PG_DATA/postmaster.pid")"
  printf '%s\n' "$pid" >"$(pid_file "$SVC_NAME")"

  local deadline=$((SECONDS + PHLO_START_TIMEOUT))
  until "$PG_BIN/pg_isready" -q -h "$PHLO_SERVICES_HOST" -p "$PG_PORT" -U "$PG_USER"; do
    if ((SECONDS >= deadline)) || ! pid_alive "$pid"; then
      start_failed "$SVC_NAME" "pg_isready never succeeded"
    fi
    sleep 0.2
  done

  if ! "$PG_BIN/createdb" -h "$PHLO_SERVICES_HOST" -p "$PG_PORT" -U "$PG_USER" \
    -O "$PG_USER" "$PG_DB" >>"$lf" 2>&1; then
    start_failed "$SVC_NAME" "createdb $PG_DB failed"
  fi
  if ! "$PG_BIN/pg_isready" -q -h "$PHLO_SERVICES_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB"; then
    start_failed "$SVC_NAME" "database $PG_DB not ready"
  fi
  svc_log "ready (pid $pid): $PG_URL"
  printf '%s\n' "$PG_URL"
}

stop() {
  local pid
  if ! pid="$(pg_pid)"; then
    svc_log "not running"
    rm -f "$(pid_file "$SVC_NAME")"
    return 0
  fi
  svc_log "stopping (pid $pid)"
  if PG_BIN="$(find_pg_bin)" && [[ -f "$PG_DATA/postmaster.pid" ]]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$PHLO_STOP_TIMEOUT" stop >/dev/null 2>&1 || true
  fi
  # SIGINT is PostgreSQL's "fast shutdown"; KILL after the timeout.
  stop_pid "$pid" INT "$PHLO_STOP_TIMEOUT" || svc_die "could not stop pid $pid"
  rm -f "$(pid_file "$SVC_NAME")"
  svc_log "stopped"
}

status() {
  local pid
  if pid="$(pg_pid)"; then
    echo "$SVC_NAME: running (pid $pid, $PG_URL)"
    return 0
  fi
  echo "$SVC_NAME: stopped"
  return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  restart) stop && start ;;
  url) printf '%s\n' "$PG_URL" ;;
  *) usage_exit ;;
esac
