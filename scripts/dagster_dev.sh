#!/usr/bin/env bash
# A real `dagster dev` (webserver + daemon + code server) on loopback, for tests and local use.
#
#   scripts/dagster_dev.sh start|stop|status|restart|url
#
# start: runs `dagster dev -w workspace.yaml -h 127.0.0.1 -p $PHLO_TEST_DAGSTER_PORT`
#        (default 21300) from the repo root, in its own session (process group), and returns once
#        /server_info answers and every code location in the workspace has loaded.  Prints the
#        base URL on stdout.
# stop:  SIGTERM to the process group recorded in the pid file (dagster dev shuts its webserver,
#        daemon and code servers down), SIGKILL to whatever is left after $PHLO_STOP_TIMEOUT s.
#
# Environment:
#   DAGSTER_HOME            instance directory (default: $PHLO_SERVICES_DIR/dagster/home); a
#                           missing dagster.yaml there is seeded from the repo's dagster.yaml.
#   PHLO_LAKEHOUSE_HOME     passed through: the embedded lakehouse the definitions use.
#   PHLO_TEST_DAGSTER_PORT  port (default 21300).
#   PHLO_DAGSTER_WORKSPACE  workspace file (default: <repo>/workspace.yaml).
#   PHLO_SERVICES_DIR       where dagster.pid / dagster.log live (default: <repo>/.services).
#
# A background `dagster dev` inherits the ignored SIGINT of a non-interactive shell's `&` and then
# also ignores SIGTERM; both signals are reset to default right before exec so it can be stopped.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/services/lib.sh"

SVC_NAME=dagster
DAGSTER_PORT="${PHLO_TEST_DAGSTER_PORT:-21300}"
DAGSTER_URL="http://$PHLO_SERVICES_HOST:$DAGSTER_PORT"
WORKSPACE="${PHLO_DAGSTER_WORKSPACE:-$PHLO_REPO_ROOT/workspace.yaml}"

# Exec argv with SIGINT and SIGTERM back at their defaults.
RESET_SIGNALS='import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])'

LOCATIONS_QUERY='{"query":"{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"}'

group_alive() {
  [[ -n "${1:-}" ]] && kill -0 -- "-$1" 2>/dev/null
}

# Prints the recorded PID (= process group id) while any process of that group lives.
recorded_group() {
  local pf pid
  pf="$(pid_file "$SVC_NAME")"
  [[ -f "$pf" ]] || return 1
  pid="$(head -n 1 "$pf" 2>/dev/null || true)"
  if [[ "$pid" =~ ^[0-9]+$ ]] && group_alive "$pid"; then
    printf '%s\n' "$pid"
    return 0
  fi
  return 1
}

# stop_group PGID: SIGTERM the group, wait, then SIGKILL what is left.
stop_group() {
  local pgid="$1" deadline
  group_alive "$pgid" || return 0
  kill -s TERM -- "-$pgid" 2>/dev/null || true
  deadline=$((SECONDS + PHLO_STOP_TIMEOUT))
  while ((SECONDS < deadline)); do
    group_alive "$pgid" || return 0
    sleep 0.2
  done
  svc_log "process group $pgid still alive ${PHLO_STOP_TIMEOUT}s after SIGTERM; sending SIGKILL"
  kill -s KILL -- "-$pgid" 2>/dev/null || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    group_alive "$pgid" || return 0
    sleep 0.2
  done
  svc_log "process group $pgid is still alive after SIGKILL"
  return 1
}

start_failed_group() {
  local msg="$1" pgid
  svc_log "ERROR: $msg"
  print_log_tail "$SVC_NAME" 80
  if pgid="$(recorded_group)"; then
    stop_group "$pgid" || true
  fi
  rm -f "$(pid_file "$SVC_NAME")"
  exit 1
}

# Poll GraphQL until every workspace location is LOADED without error; fail on a load error.
wait_for_locations() {
  local timeout="$1" pid="$2" deadline body
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    body="$(curl -fsS --max-time 10 -H 'Content-Type: application/json' \
      -d "$LOCATIONS_QUERY" "$DAGSTER_URL/graphql" 2>/dev/null || true)"
    if [[ "$body" == *'"PythonError"'* ]]; then
      svc_log "a code location failed to load: $body"
      return 1
    fi
    if [[ "$body" == *'"loadStatus"'* && "$body" != *'"LOADING"'* ]]; then
      return 0
    fi
    if ! pid_alive "$pid"; then
      svc_log "process $pid exited while the workspace was loading"
      return 1
    fi
    sleep 0.5
  done
  svc_log "timed out after ${timeout}s waiting for the workspace to load"
  return 1
}

start() {
  local pid dagster_bin python_bin
  ensure_state_dir
  if pid="$(recorded_group)"; then
    svc_log "already running (pid $pid): $DAGSTER_URL"
    printf '%s\n' "$DAGSTER_URL"
    return 0
  fi
  dagster_bin="$PHLO_VENV_BIN/dagster"
  python_bin="$PHLO_VENV_BIN/python"
  [[ -x "$dagster_bin" && -x "$python_bin" ]] ||
    svc_die "dagster not found in $PHLO_VENV_BIN (make install)"
  [[ -f "$WORKSPACE" ]] || svc_die "workspace file $WORKSPACE not found"
  require_port_free "$SVC_NAME" "$DAGSTER_PORT"

  DAGSTER_HOME="${DAGSTER_HOME:-$PHLO_SERVICES_DIR/dagster/home}"
  mkdir -p "$DAGSTER_HOME"
  DAGSTER_HOME="$(cd "$DAGSTER_HOME" && pwd)"
  [[ -f "$DAGSTER_HOME/dagster.yaml" ]] || cp "$PHLO_REPO_ROOT/dagster.yaml" "$DAGSTER_HOME/"
  export DAGSTER_HOME
  if [[ -n "${PHLO_LAKEHOUSE_HOME:-}" ]]; then
    export PHLO_LAKEHOUSE_HOME
  fi

  : >"$(log_file "$SVC_NAME")"
  svc_log "starting dagster dev on $DAGSTER_URL (DAGSTER_HOME=$DAGSTER_HOME," \
    "PHLO_LAKEHOUSE_HOME=${PHLO_LAKEHOUSE_HOME:-<unset>})"
  cd "$PHLO_REPO_ROOT"
  start_daemon "$SVC_NAME" "$python_bin" -c "$RESET_SIGNALS" \
    "$dagster_bin" dev -w "$WORKSPACE" -h "$PHLO_SERVICES_HOST" -p "$DAGSTER_PORT"
  pid="$DAEMON_PID"
  wait_for_http "$DAGSTER_URL/server_info" "$PHLO_START_TIMEOUT" "$pid" ||
    start_failed_group "dagster dev did not answer on $DAGSTER_URL/server_info"
  wait_for_locations "$PHLO_START_TIMEOUT" "$pid" ||
    start_failed_group "the workspace $WORKSPACE did not load"
  svc_log "ready (pid $pid): $DAGSTER_URL"
  printf '%s\n' "$DAGSTER_URL"
}

stop() {
  local pgid
  if pgid="$(recorded_group)"; then
    svc_log "stopping (process group $pgid)"
    stop_group "$pgid" || svc_die "could not stop process group $pgid"
    svc_log "stopped"
  else
    svc_log "not running"
  fi
  rm -f "$(pid_file "$SVC_NAME")"
}

status() {
  local pgid
  if pgid="$(recorded_group)"; then
    echo "$SVC_NAME: running (pid $pgid, $DAGSTER_URL)"
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
  url) printf '%s\n' "$DAGSTER_URL" ;;
  *) usage_exit ;;
esac
