#!/usr/bin/env bash
# Stops exactly what up.sh started (by the PID files in run/pids), newest part first.
#   deploy/local/down.sh                 stop-with-savepoint the main job (up.sh resumes from it), stop all processes
#   deploy/local/down.sh --no-savepoint  do not take a savepoint, just stop the processes
#   deploy/local/down.sh --wipe          stop everything and delete run/data (topics, buckets, checkpoints, savepoints)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
wipe=0; savepoint=1
for a in "$@"; do
  case "$a" in
    --wipe) wipe=1; savepoint=0 ;;
    --no-savepoint) savepoint=0 ;;
    *) die "unknown option $a (use --wipe or --no-savepoint)" ;;
  esac
done

if pid_of jobmanager >/dev/null && rest_get /overview >/dev/null 2>&1; then
  jid="$(job_id_by_name "$JOB_NAME")"
  if [[ -n "$jid" && "$savepoint" == 1 && "$(job_state "$jid")" == RUNNING ]] && pid_of kafka >/dev/null && pid_of s3 >/dev/null; then
    PART=$JOB_NAME log "stop with savepoint ($jid)"
    if sp="$(stop_with_savepoint "$jid" 90)"; then
      echo "$sp" >"$DATA/$JOB_NAME.savepoint"
      PART=$JOB_NAME log "savepoint $sp (up.sh resumes from it)"
    else
      PART=$JOB_NAME log "stop-with-savepoint failed; the job is cancelled, up.sh will start it fresh"
    fi
  fi
  # cancel whatever still runs, so no Kafka transaction or job is left half-way
  for j in $(rest_get /jobs/overview | jq -r '.jobs[] | select(.state | IN("FINISHED","FAILED","CANCELED") | not) | .jid'); do
    PART=jobs log "cancel $j"
    rest -X PATCH "$FLINK_URL/jobs/$j?mode=cancel" >/dev/null || true
  done
fi

PART=prometheus stop_part prometheus
PART=sql-gateway stop_part sql-gateway
for f in "$PIDS"/taskmanager-*.pid; do
  [[ -e "$f" ]] || continue
  PART=flink stop_part "$(basename "$f" .pid)"
done
PART=flink stop_part jobmanager
PART=zookeeper stop_part zookeeper
PART=model-server stop_part model-server
PART=s3 stop_part s3
PART=kafka stop_part kafka
rm -f "$RUN"/*.jobid "$RUN"/jar-*.id

left="$(pgrep -f -- "-Dflinkai.local.part=.*$RUN/" || true)"
[[ -z "$left" ]] || log "WARNING: processes of this stack still run: $left (started from another checkout?)"

if [[ "$wipe" == 1 ]]; then
  log "wiping $DATA"
  rm -rf "$DATA" "$RUN"/uploaded-* "$RUN"/*.ok
fi
log "stopped"
