# shellcheck shell=bash
# Shared helpers for the test-service scripts in scripts/services/.
#
# Source it; do not execute it.  Every service keeps its state in
# $PHLO_SERVICES_DIR (default: <repo>/.services):
#   <name>.pid   PID of the running server process
#   <name>.log   its stdout/stderr (and the start-up messages of the script)
#   <name>/      any data directory the service needs
# All servers listen on 127.0.0.1 only.

PHLO_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PHLO_SERVICES_DIR="${PHLO_SERVICES_DIR:-$PHLO_REPO_ROOT/.services}"
PHLO_SERVICES_HOST=127.0.0.1
PHLO_VENV_BIN="${PHLO_VENV_BIN:-$PHLO_REPO_ROOT/.venv/bin}"
# Seconds to wait for a server to become ready / to exit after SIGTERM.
PHLO_START_TIMEOUT="${PHLO_START_TIMEOUT:-120}"
PHLO_STOP_TIMEOUT="${PHLO_STOP_TIMEOUT:-20}"
export PHLO_REPO_ROOT PHLO_SERVICES_DIR

svc_log() {
  printf '[%s] %s\n' "${SVC_NAME:-services}" "$*" >&2
}

svc_die() {
  svc_log "ERROR: $*"
  exit 1
}

ensure_state_dir() {
  mkdir -p "$PHLO_SERVICES_DIR"
  # Keep the state dir out of git without touching the repo's .gitignore.
  [[ -f "$PHLO_SERVICES_DIR/.gitignore" ]] || printf '*\n' >"$PHLO_SERVICES_DIR/.gitignore"
  # Services may run as another OS user (postgres): let them traverse it.
  chmod 755 "$PHLO_SERVICES_DIR"
}

pid_file() { printf '%s/%s.pid\n' "$PHLO_SERVICES_DIR" "$1"; }
log_file() { printf '%s/%s.log\n' "$PHLO_SERVICES_DIR" "$1"; }

pid_alive() {
  [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null
}

# Prints the PID recorded for service $1 if that process is alive.
running_pid() {
  local pf pid
  pf="$(pid_file "$1")"
  [[ -f "$pf" ]] || return 1
  pid="$(head -n 1 "$pf" 2>/dev/null || true)"
  if [[ "$pid" =~ ^[0-9]+$ ]] && pid_alive "$pid"; then
    printf '%s\n' "$pid"
    return 0
  fi
  return 1
}

# True when something accepts TCP connections on host $1 port $2.
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# Print the last lines of the service log to stderr.
print_log_tail() {
  local name="$1" lines="${2:-60}" lf
  lf="$(log_file "$name")"
  if [[ -f "$lf" ]]; then
    svc_log "last $lines lines of $lf:"
    tail -n "$lines" "$lf" >&2 || true
  else
    svc_log "no log file $lf"
  fi
}

# Fail a start: show the log tail, stop what was started, exit 1.
start_failed() {
  local name="$1" msg="$2" pid
  svc_log "ERROR: $msg"
  print_log_tail "$name"
  if pid="$(running_pid "$name")"; then
    stop_pid "$pid" TERM "$PHLO_STOP_TIMEOUT" || true
  fi
  rm -f "$(pid_file "$name")"
  exit 1
}

# Fail early when a foreign process already owns the port.
require_port_free() {
  local name="$1" port="$2"
  if port_open "$PHLO_SERVICES_HOST" "$port"; then
    svc_die "port $PHLO_SERVICES_HOST:$port is already in use by another process (not $name started from $PHLO_SERVICES_DIR); choose another port"
  fi
}

# wait_for_port HOST PORT TIMEOUT [PID]: poll until the port accepts
# connections; give up early when PID dies.
wait_for_port() {
  local host="$1" port="$2" timeout="$3" pid="${4:-}" deadline
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if port_open "$host" "$port"; then
      return 0
    fi
    if [[ -n "$pid" ]] && ! pid_alive "$pid"; then
      svc_log "process $pid exited while waiting for $host:$port"
      return 1
    fi
    sleep 0.2
  done
  svc_log "timed out after ${timeout}s waiting for $host:$port"
  return 1
}

# wait_for_http URL TIMEOUT [PID]: poll until URL answers with a 2xx status.
wait_for_http() {
  local url="$1" timeout="$2" pid="${3:-}" deadline
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if curl -fsS -o /dev/null --max-time 5 "$url" 2>/dev/null; then
      return 0
    fi
    if [[ -n "$pid" ]] && ! pid_alive "$pid"; then
      svc_log "process $pid exited while waiting for $url"
      return 1
    fi
    sleep 0.3
  done
  svc_log "timed out after ${timeout}s waiting for $url"
  return 1
}

# stop_pid PID [SIGNAL] [TIMEOUT]: send SIGNAL (default TERM), wait up to
# TIMEOUT seconds, then SIGKILL.  Returns 0 once the process is gone.
stop_pid() {
  local pid="$1" sig="${2:-TERM}" timeout="${3:-$PHLO_STOP_TIMEOUT}" deadline
  pid_alive "$pid" || return 0
  kill -s "$sig" "$pid" 2>/dev/null || true
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    pid_alive "$pid" || return 0
    sleep 0.2
  done
  svc_log "process $pid did not exit after SIG$sig within ${timeout}s; sending SIGKILL"
  kill -s KILL "$pid" 2>/dev/null || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    pid_alive "$pid" || return 0
    sleep 0.2
  done
  svc_log "process $pid is still alive after SIGKILL"
  return 1
}

# start_daemon NAME CMD...: run CMD in the background in its own session,
# output appended to the service log, PID written to the pid file.
# Sets DAEMON_PID.
start_daemon() {
  local name="$1" lf
  shift
  lf="$(log_file "$name")"
  printf '=== %s: starting %s\n' "$(date '+%F %T')" "$*" >>"$lf"
  setsid "$@" >>"$lf" 2>&1 </dev/null &
  DAEMON_PID=$!
  printf '%s\n' "$DAEMON_PID" >"$(pid_file "$name")"
}

# stop_service NAME [SIGNAL]: stop the process recorded in the pid file.
stop_service() {
  local name="$1" sig="${2:-TERM}" pid
  if pid="$(running_pid "$name")"; then
    svc_log "stopping (pid $pid)"
    if ! stop_pid "$pid" "$sig" "$PHLO_STOP_TIMEOUT"; then
      svc_die "could not stop pid $pid"
    fi
    svc_log "stopped"
  else
    svc_log "not running"
  fi
  rm -f "$(pid_file "$name")"
}

# status_service NAME PORT: exit status 0 when running, 3 when not.
status_service() {
  local name="$1" port="$2" pid
  if pid="$(running_pid "$name")"; then
    echo "$name: running (pid $pid, $PHLO_SERVICES_HOST:$port)"
    return 0
  fi
  echo "$name: stopped"
  return 3
}

usage_exit() {
  echo "usage: $0 start|stop|status|restart" >&2
  exit 2
}

# compile_java_launcher NAME JAVA CLASSPATH SOURCE: compile one of our small Java launchers into
# $PHLO_SERVICES_DIR/NAME/classes (with the javac next to JAVA, else on PATH), unless its class
# file is newer than SOURCE. A compile error fails the start of NAME.
compile_java_launcher() {
  local name="$1" java="$2" cp="$3" src="$4" javac classes class
  classes="$PHLO_SERVICES_DIR/$name/classes"
  class="$classes/$(basename "$src" .java).class"
  if [[ -f "$class" && "$class" -nt "$src" ]]; then
    return 0
  fi
  javac="$(dirname "$(readlink -f "$java")")/javac"
  [[ -x "$javac" ]] || javac="$(command -v javac || true)"
  [[ -n "$javac" ]] || svc_die "javac not found next to $java or on PATH (install a JDK)"
  mkdir -p "$classes"
  svc_log "compiling $src"
  "$javac" -encoding UTF-8 -nowarn -d "$classes" -cp "$cp" "$src" >>"$(log_file "$name")" 2>&1 ||
    start_failed "$name" "javac could not compile $src"
}

# java_binary OVERRIDE: the java a service runs: $OVERRIDE (a path) when given, else
# $JAVA_HOME/bin/java, else java on PATH; fails when there is none.
java_binary() {
  if [[ -n "${1:-}" ]]; then
    printf '%s\n' "$1"
  elif [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    printf '%s\n' "$JAVA_HOME/bin/java"
  else
    command -v java || return 1
  fi
}
