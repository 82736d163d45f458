#!/usr/bin/env bash
# Prometheus Pushgateway (Debian package prometheus-pushgateway) for the observability tests,
# on 127.0.0.1:$PHLO_TEST_PUSHGATEWAY_PORT (default 21091), metrics kept in memory only.
#
#   scripts/services/pushgateway.sh start|stop|status|restart|url
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SVC_NAME=pushgateway
PGW_PORT="${PHLO_TEST_PUSHGATEWAY_PORT:-21091}"
PGW_URL="http://$PHLO_SERVICES_HOST:$PGW_PORT"

start() {
  local lf pid bin
  ensure_state_dir
  lf="$(log_file "$SVC_NAME")"
  if pid="$(running_pid "$SVC_NAME")"; then
    svc_log "already running (pid $pid)"
    printf '%s\n' "$PGW_URL"
    return 0
  fi
  bin="$(command -v prometheus-pushgateway || true)"
  [[ -n "$bin" ]] || svc_die "prometheus-pushgateway not found (apt-get install prometheus-pushgateway)"
  require_port_free "$SVC_NAME" "$PGW_PORT"
  : >"$lf"
  svc_log "starting $bin on $PHLO_SERVICES_HOST:$PGW_PORT"
  start_daemon "$SVC_NAME" "$bin" "--web.listen-address=$PHLO_SERVICES_HOST:$PGW_PORT"
  pid="$DAEMON_PID"
  wait_for_http "$PGW_URL/-/ready" "$PHLO_START_TIMEOUT" "$pid" ||
    start_failed "$SVC_NAME" "pushgateway did not answer on $PGW_URL"
  svc_log "ready (pid $pid): $PGW_URL"
  printf '%s\n' "$PGW_URL"
}

case "${1:-}" in
  start) start ;;
  stop) stop_service "$SVC_NAME" TERM ;;
  status) status_service "$SVC_NAME" "$PGW_PORT" ;;
  restart) stop_service "$SVC_NAME" TERM && start ;;
  url) printf '%s\n' "$PGW_URL" ;;
  *) usage_exit ;;
esac
