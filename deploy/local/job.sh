#!/usr/bin/env bash
# Operations on the main job of the local stack (the README, "Operate it" shows the raw REST calls too).
#   deploy/local/job.sh status                      jobs, state, restarts, last checkpoint
#   deploy/local/job.sh stop                        stop-with-savepoint; prints the savepoint, remembers it in run/data
#   deploy/local/job.sh resume [-p N] [savepoint]   submit the main job from a savepoint (default: the last one
#                                                   taken by job.sh stop or down.sh), optionally with parallelism N
#   deploy/local/job.sh lag                         consumer lag of the job's group (offsets committed on checkpoints)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PART=$JOB_NAME
SP_FILE="$DATA/$JOB_NAME.savepoint"
cmd="${1:-status}"; shift || true
case "$cmd" in
  status)
    rest_get /jobs/overview | jq -r '.jobs[] | "\(.jid)  \(.name)  \(.state)  tasks \(.tasks.running)/\(.tasks.total) running"'
    jid="$(job_id_by_name "$JOB_NAME")"
    if [[ -n "$jid" ]]; then
      echo "$JOB_NAME: $(job_state "$jid"), $(rest_get "/jobs/$jid" | jq -r '"parallelism \([.vertices[].parallelism] | max), vertices \([.vertices[] | select(.status == "RUNNING")] | length)/\(.vertices | length) RUNNING"'),"\
        "numRestarts $(rest_get "/jobs/$jid/metrics?get=numRestarts" | jq -r '.[0].value')"
      rest_get "/jobs/$jid/checkpoints" | jq -r --argjson early "$(not_yet_running_triggers "$jid")" \
        '"checkpoints: \(.counts.completed) completed, \(.counts.failed - $early) failed\(if $early > 0 then " (+\($early) triggered before all tasks ran, skipped)" else "" end); latest \(.latest.completed.external_path // "-"); restored from \(.latest.restored.external_path // "-")"'
    fi ;;
  stop)
    jid="$(job_id_by_name "$JOB_NAME")"; [[ -n "$jid" ]] || die "no running $JOB_NAME job"
    log "stop-with-savepoint $jid into $SAVEPOINT_DIR"
    sp="$(stop_with_savepoint "$jid" 120)" || die "stop-with-savepoint failed (see $LOGS/jobmanager.log)"
    echo "$sp" >"$SP_FILE"
    log "savepoint: $sp"
    echo "$sp" ;;
  resume)
    par="$JOB_PARALLELISM"
    if [[ "${1:-}" == -p ]]; then par="$2"; shift 2; fi
    sp="${1:-$(cat "$SP_FILE" 2>/dev/null || true)}"
    [[ -n "$sp" ]] || die "no savepoint given and none remembered in $SP_FILE"
    [[ -z "$(job_id_by_name "$JOB_NAME")" ]] || die "$JOB_NAME is already running: job.sh stop first"
    jar="$(upload_jar)" || die "jar upload failed"
    mapfile -t MAIN_ARGS < <(main_job_args)
    jid="$(run_jar "$jar" "$JOB_CLASS" "$par" "$sp" "${MAIN_ARGS[@]}")" || die "run refused"
    echo "$jid" >"$RUN/$JOB_NAME.jobid"
    mv -f "$SP_FILE" "$SP_FILE.resumed" 2>/dev/null || true
    log "submitted $jid from $sp with parallelism $par; waiting for RUNNING"
    for _ in $(seq 120); do job_fully_running "$jid" && { log "RUNNING"; exit 0; }; sleep 1; done
    die "job $jid not RUNNING after 120 s: $FLINK_URL/#/job/running/$jid/exceptions" ;;
  lag)
    kafka_tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "$KAFKA_BOOTSTRAP" \
      --describe --group "$CONSUMER_GROUP" ;;
  *) die "usage: job.sh status|stop|resume [-p N] [savepoint]|lag" ;;
esac
