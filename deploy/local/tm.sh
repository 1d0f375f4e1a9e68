#!/usr/bin/env bash
# TaskManagers of the local cluster (each has TM_SLOTS slots, default 5).
#   deploy/local/tm.sh list            TaskManagers known to this stack and to the JobManager
#   deploy/local/tm.sh start [n]       start TaskManager n (default 1) unless it runs; waits until it registered
#   deploy/local/tm.sh stop [n]        stop TaskManager n gracefully (SIGTERM)
#   deploy/local/tm.sh kill [n]        SIGKILL TaskManager n: a crash, the job fails over and waits for slots
set -euo pipefail
UP_FUNCTIONS_ONLY=1 source "$(dirname "$0")/up.sh"
cmd="${1:-list}"; n="${2:-1}"; name="taskmanager-$n"
case "$cmd" in
  list)
    for f in "$PIDS"/taskmanager-*.pid; do
      [[ -e "$f" ]] || continue
      t="$(basename "$f" .pid)"; echo "$t: pid $(pid_of "$t" || echo 'not running')"
    done
    rest_get /taskmanagers | jq -r '.taskmanagers[] | "registered \(.id): \(.slotsNumber) slots, \(.freeSlots) free"' ;;
  start)
    pid_of jobmanager >/dev/null || die "the JobManager is not running: deploy/local/up.sh first"
    start_taskmanager "$n"
    PART=$name wait_until "$name" "$LOGS/$name.log" 90 tm_registered "$n"
    PART=$name log "registered with the JobManager as $(cat "$PIDS/$name.rid")"
    if pid_of prometheus >/dev/null; then "$REPO_DIR/deploy/prometheus/run-local.sh" targets; fi ;;
  stop) PART=$name stop_part "$name"; if pid_of prometheus >/dev/null; then "$REPO_DIR/deploy/prometheus/run-local.sh" targets; fi ;;
  kill) pid_of "$name" >/dev/null || die "$name is not running"; PART=$name stop_part "$name" KILL ;;
  *) die "usage: tm.sh list|start [n]|stop [n]|kill [n]" ;;
esac
