#!/usr/bin/env bash
# moto_server (S3, Glue, ... in one in-memory AWS emulator) for the
# integration tests, on 127.0.0.1:$PHLO_TEST_MOTO_PORT (default 21000).
# After start the S3 bucket "warehouse" exists (Nessie's warehouse).
#
#   scripts/services/moto.sh start|stop|status|restart|url
#
# On start it prints the endpoint URL on stdout.  Any access key works;
# the tests use testing/testing and region us-east-1.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SVC_NAME=moto
MOTO_PORT="${PHLO_TEST_MOTO_PORT:-21000}"
MOTO_URL="http://$PHLO_SERVICES_HOST:$MOTO_PORT"
MOTO_BUCKETS="${PHLO_TEST_S3_BUCKETS:-warehouse}"

create_buckets() {
  local bucket code
  for bucket in $MOTO_BUCKETS; do
    # Path-style CreateBucket; moto does not check signatures.
    code="$(curl -sS -o /dev/null -w '%{http_code}' -X PUT "$MOTO_URL/$bucket")" || return 1
    case "$code" in
      200 | 409) svc_log "bucket s3://$bucket ready" ;;
      *)
        svc_log "CreateBucket $bucket answered HTTP $code"
        return 1
        ;;
    esac
  done
}

start() {
  local lf pid moto_bin
  ensure_state_dir
  lf="$(log_file "$SVC_NAME")"
  if pid="$(running_pid "$SVC_NAME")"; then
    svc_log "already running (pid $pid)"
    create_buckets || start_failed "$SVC_NAME" "could not create buckets"
    printf '%s\n' "$MOTO_URL"
    return 0
  fi
  moto_bin="$PHLO_VENV_BIN/moto_server"
  if [[ ! -x "$moto_bin" ]]; then
    moto_bin="$(command -v moto_server || true)"
    [[ -n "$moto_bin" ]] || svc_die "moto_server not found in $PHLO_VENV_BIN (pip install -e '.[dev]' into .venv)"
  fi
  require_port_free "$SVC_NAME" "$MOTO_PORT"
  : >"$lf"
  svc_log "starting $moto_bin on $PHLO_SERVICES_HOST:$MOTO_PORT"
  start_daemon "$SVC_NAME" "$moto_bin" -H "$PHLO_SERVICES_HOST" -p "$MOTO_PORT"
  pid="$DAEMON_PID"
  wait_for_http "$MOTO_URL/moto-api/" "$PHLO_START_TIMEOUT" "$pid" ||
    start_failed "$SVC_NAME" "moto_server did not answer on $MOTO_URL"
  create_buckets || start_failed "$SVC_NAME" "could not create buckets"
  svc_log "ready (pid $pid): $MOTO_URL"
  printf '%s\n' "$MOTO_URL"
}

case "${1:-}" in
  start) start ;;
  stop) stop_service "$SVC_NAME" TERM ;;
  status) status_service "$SVC_NAME" "$MOTO_PORT" ;;
  restart) stop_service "$SVC_NAME" TERM && start ;;
  url) printf '%s\n' "$MOTO_URL" ;;
  *) usage_exit ;;
esac
