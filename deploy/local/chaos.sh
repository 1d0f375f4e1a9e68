#!/usr/bin/env bash
# Failure injection on the running local stack (after up.sh, with the generator writing events), in exactly-once mode.
# Each fault is injected, healed the way a supervisor would (a killed process is started again), and timed: until the
# main job runs again and until it completes a checkpoint triggered after the heal. At the end an independent
# read_committed reader (tools/Audit.java) checks that every event written since the start has exactly one outcome
# (its prediction, or a dead letter for a record no reader can decode), and that each user's context counted every
# event once. Prints a table and "N passed, N failed"; exit status 0 only if all passed.
#   deploy/local/chaos.sh                       3 rounds of the 8 faults below (24), then the audit
#   deploy/local/chaos.sh --rounds 1            one round (e2e.sh runs this)
#   deploy/local/chaos.sh --faults tm-kill,jm-kill [--rounds N]
# Faults:
#   bad-input           100 records no reader can decode written to the events topic: dead letters, no restart
#   tm-kill             SIGKILL the TaskManager; a replacement starts at once
#   model-fail          remote backend: the model server SIGKILLed for 20 s (fallbacks, no restart);
#                       in-process: a model version that is not TorchScript published (rejected, no restart)
#   broker-restart      the Kafka broker stopped (SIGTERM) for 5 s and started again
#   jm-kill             SIGKILL the JobManager; started again, it takes the jobs back through ZooKeeper HA
#   s3-down             the S3 store SIGKILLed for two checkpoint intervals and started again: checkpoints fail
#   tm-kill-twice       SIGKILL the TaskManager, then its replacement while the jobs restore onto it
#   checkpoint-timeout  the S3 store frozen (SIGSTOP) during a checkpoint, 10 s longer than CHECKPOINT_TIMEOUT:
#                       checkpoints expire, no job restarts
set -uo pipefail
UP_FUNCTIONS_ONLY=1 source "$(dirname "$0")/up.sh"
set +e   # a failed step is a failed fault, reported in the table, not the end of the run
PART=chaos
ALL_FAULTS=(bad-input tm-kill model-fail broker-restart jm-kill s3-down tm-kill-twice checkpoint-timeout)
rounds=3; faults=("${ALL_FAULTS[@]}")
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --faults) IFS=, read -r -a faults <<<"$2"; shift 2 ;;
    *) die "unknown option $1 (see the header of $0)" ;;
  esac
done
for f in "${faults[@]}"; do [[ " ${ALL_FAULTS[*]} " == *" $f "* ]] || die "unknown fault $f (one of: ${ALL_FAULTS[*]})"; done
: "${RECOVERY_TIMEOUT:=240}"   # s per fault until the job runs and checkpoints again
: "${AUDIT_TIMEOUT:=300}"      # s the audit waits for the last outcomes
CHAOS_LOG="$LOGS/chaos.log"

now_ms() { date +%s%3N; }
seconds() { awk -v ms="$1" 'BEGIN { printf "%.1f", ms / 1000 }'; }
seconds_of() { # a Flink duration (10s, 10 s, 1min, 500ms) in whole seconds
  local v="${1// /}"
  case "$v" in
    *ms) echo $(( ${v%ms} / 1000 )) ;; *min) echo $(( ${v%min} * 60 )) ;; *s) echo "${v%s}" ;; *m) echo $(( ${v%m} * 60 )) ;;
    *) echo "$v" ;;
  esac
}
CHECKPOINT_S="$(seconds_of "$CHECKPOINT_INTERVAL")"
CHECKPOINT_TIMEOUT_S="$(seconds_of "$CHECKPOINT_TIMEOUT")"

# --- the stack and its jobs -----------------------------------------------------------------------------------------
JID="$(job_id_by_name "$JOB_NAME")"
[[ -n "$JID" ]] || die "no running job $JOB_NAME: deploy/local/up.sh first"
delivery="$(rest_get "/jobs/$JID/config" | jq -r '."execution-config"."user-config".delivery // empty')"
[[ "$delivery" == exactly-once ]] || die "job $JID runs with delivery '${delivery:-?}': the audit needs DELIVERY=exactly-once"
[[ -n "$(job_id_by_name "$GENERATOR_NAME")" ]] || die "the generator ($GENERATOR_NAME) is not running: the faults need traffic"
pid_of zookeeper >/dev/null || die "ZooKeeper is not running: a JobManager kill needs HA (deploy/local/up.sh starts it)"
backend=in-process; pid_of model-server >/dev/null && backend=remote
OTHER_JOBS=()
for name in "$GENERATOR_NAME" "$KPI_NAME" "$OPS_NAME"; do [[ -n "$(job_id_by_name "$name")" ]] && OTHER_JOBS+=("$name"); done

# main_state: RUNNING when the job and all its tasks run; else its state, or UNREACHABLE when no JobManager answers
main_state() {
  curl -sS --max-time 5 "$FLINK_URL/jobs/$JID" 2>/dev/null | jq -r \
    'if .state == "RUNNING" and ([.vertices[].status] | all(. == "RUNNING")) then "RUNNING" else (.state // "UNREACHABLE") end' \
    2>/dev/null || echo UNREACHABLE
}
checkpoint_counts() { # "<trigger ms of the latest completed> <failed> <completed>"
  local out
  out="$(curl -sS --max-time 5 "$FLINK_URL/jobs/$JID/checkpoints" 2>/dev/null \
    | jq -r '"\(.latest.completed.trigger_timestamp // 0) \(.counts.failed // 0) \(.counts.completed // 0)"' 2>/dev/null)"
  echo "${out:-0 0 0}"
}
restarts() {
  local n
  n="$(curl -sS --max-time 5 "$FLINK_URL/jobs/$JID/metrics?get=numRestarts" 2>/dev/null | jq -r '.[0].value // 0' 2>/dev/null)"
  echo "${n:-0}"
}
expired() { # expired() [job id]: checkpoints that expired, of that job or of any, as the JobManager logged them
  local n
  n="$(grep -c "Checkpoint [0-9]* of job ${1:-[0-9a-f]*} expired before completing" "$LOGS/jobmanager.log" 2>/dev/null)"
  echo "${n:-0}"
}
others_running() { # the other jobs RUNNING, each task RUNNING or done (the generator's bounded profile writer ends)
  local name jid
  for name in "${OTHER_JOBS[@]}"; do
    jid="$(job_id_by_name "$name")"
    [[ -n "$jid" ]] && rest_get "/jobs/$jid" 2>/dev/null \
      | jq -e '.state == "RUNNING" and ([.vertices[].status] | all(. == "RUNNING" or . == "FINISHED"))' >/dev/null 2>&1 || return 1
  done
}

# --- the faults: each injects and heals, and sets HEAL_MS ------------------------------------------------------------
HEAL_MS=0
start_tm() { start_taskmanager 1 >>"$CHAOS_LOG" 2>&1; }
# a crash: SIGKILL, and the part's PID file dropped (stop_part waits until the process is gone)
crash() { pid_of "$1" >/dev/null || { log "$1 is not running"; return 1; }; stop_part "$1" KILL >>"$CHAOS_LOG" 2>&1; }

fault_bad-input() { audit_tool bad-input 100 >>"$CHAOS_LOG" 2>&1 || return 1; HEAL_MS=$(now_ms); }
fault_tm-kill() { crash taskmanager-1 || return 1; start_tm || return 1; HEAL_MS=$(now_ms); }
fault_tm-kill-twice() {
  crash taskmanager-1 || return 1; start_tm || return 1
  local deadline=$((SECONDS + 60))
  until tm_registered 1; do ((SECONDS < deadline)) || return 1; sleep 0.5; done
  # the jobs are being deployed and restored onto the replacement: kill it in the middle of that
  deadline=$((SECONDS + 30))
  until [[ "$(main_state)" =~ ^(RUNNING|INITIALIZING|CREATED|RESTARTING)$ ]] && \
      curl -sS --max-time 5 "$FLINK_URL/jobs/$JID" | jq -e '[.vertices[].status] | any(. == "DEPLOYING" or . == "INITIALIZING")' >/dev/null 2>&1; do
    ((SECONDS < deadline)) || break; sleep 0.2
  done
  crash taskmanager-1 || return 1; start_tm || return 1; HEAL_MS=$(now_ms)
}
fault_jm-kill() { crash jobmanager || return 1; start_jobmanager >>"$CHAOS_LOG" 2>&1 || return 1; HEAL_MS=$(now_ms); }
fault_broker-restart() {
  stop_part kafka >>"$CHAOS_LOG" 2>&1
  sleep 5
  start_kafka >>"$CHAOS_LOG" 2>&1 || return 1
  PART=kafka wait_until kafka "$LOGS/kafka.log" 90 port_open "$KAFKA_HOST" "$KAFKA_PORT" >>"$CHAOS_LOG" 2>&1
  HEAL_MS=$(now_ms)
}
S3_DOWN_COMPLETED=0   # checkpoints the main job completed while the store was down (none, if the fault took effect)
fault_s3-down() {
  local before after
  stop_part s3 KILL >>"$CHAOS_LOG" 2>&1
  read -r _ _ before <<<"$(checkpoint_counts)"
  sleep $((2 * CHECKPOINT_S + 5))
  read -r _ _ after <<<"$(checkpoint_counts)"
  S3_DOWN_COMPLETED=$((after - before))
  start_s3 >>"$CHAOS_LOG" 2>&1 || return 1
  PART=s3 wait_until s3 "$LOGS/s3.log" 60 port_open "$S3_HOST" "$S3_PORT" >>"$CHAOS_LOG" 2>&1
  HEAL_MS=$(now_ms)
}
fault_checkpoint-timeout() {
  local pid jids deadline=$((SECONDS + 30))
  pid="$(pid_of s3)" || return 1
  # freeze the store while a checkpoint of some job uploads its state. Frozen before a trigger, the JobManager waits
  # to create the checkpoint's directory, and the timeout only starts once it has: that checkpoint is late, not expired.
  jids="$(rest_get /jobs/overview | jq -r '.jobs[] | select(.state == "RUNNING") | .jid')"
  while ((SECONDS < deadline)); do
    for j in $jids; do
      curl -sS --max-time 2 "$FLINK_URL/jobs/$j/checkpoints" 2>/dev/null | jq -e '.counts.in_progress > 0' >/dev/null 2>&1 && break 2
    done
  done
  kill -STOP "$pid"
  sleep $((CHECKPOINT_TIMEOUT_S + 10))
  kill -CONT "$pid"
  HEAL_MS=$(now_ms)
}
fault_model-fail() {
  if [[ "$backend" == remote ]]; then
    stop_part model-server KILL >>"$CHAOS_LOG" 2>&1
    sleep 20
    start_model_server >>"$CHAOS_LOG" 2>&1 || return 1
    PART=model-server wait_until model-server "$LOGS/model-server.log" 90 model_server_ready >>"$CHAOS_LOG" 2>&1
  else
    local broken at version="0.0.$(date +%s)-chaos-broken"
    broken="$(mktemp -d)"
    head -c 4096 /dev/urandom >"$broken/broken.pt"
    cp "$REPO_DIR/notebooks/model/next_event_mlp.json" "$broken/broken.json"
    at="$("$LOCAL_DIR/model.sh" publish "$broken/broken.pt" --version "$version" --notes chaos 2>>"$CHAOS_LOG" | tail -n 1)"
    rm -rf "$broken"
    "$LOCAL_DIR/model.sh" await REJECTED "$version" "$JOB_PARALLELISM" "$at" 90 >>"$CHAOS_LOG" 2>&1 || return 1
  fi
  HEAL_MS=$(now_ms)
}

# what the fault must have done besides recovering: "<what it shows>" on stdout, exit 1 if it did not happen
expect_no_restart() { (($2 == $1)) && echo "no restart" || { echo "$(($2 - $1)) restart(s)"; return 1; }; }

# --- the run --------------------------------------------------------------------------------------------------------
: >"$CHAOS_LOG"
audit_tool mark "$RUN/chaos.mark" >>"$CHAOS_LOG" 2>&1 || die "could not read the topics' end offsets (log $CHAOS_LOG)"
log "job $JID, $backend model, checkpoints every ${CHECKPOINT_S} s; ${rounds} round(s) of: ${faults[*]}; log $CHAOS_LOG"
rows=(); passed=0; failed=0; slowest=0; slowest_fault=""; n=0
for ((round = 1; round <= rounds; round++)); do
  for fault in "${faults[@]}"; do
    n=$((n + 1))
    sleep 5   # let the previous recovery settle: each fault meets a job that runs and checkpoints
    r0="$(restarts)"; read -r _ failed0 _ <<<"$(checkpoint_counts)"; exp0="$(expired)"; main_exp0="$(expired "$JID")"
    log "#$n $fault"
    echo "=== $(date '+%F %T') #$n $fault" >>"$CHAOS_LOG"
    t0=$(now_ms); HEAL_MS=0; ok=1; note=""
    "fault_$fault" || { ok=0; note="the fault could not be injected or healed (log $CHAOS_LOG)"; }
    ((HEAL_MS > 0)) || HEAL_MS=$(now_ms)
    # until the job runs again and a checkpoint triggered after the heal completed
    saw_down=0; running_ms=""; checkpoint_ms=""; state=""
    deadline=$((SECONDS + RECOVERY_TIMEOUT))
    while ((SECONDS < deadline)); do
      state="$(main_state)"
      if [[ "$state" != RUNNING ]]; then
        saw_down=1
        [[ "$state" == FAILED ]] && break
      else
        [[ "$saw_down" == 1 && -z "$running_ms" ]] && running_ms=$(( $(now_ms) - t0 ))
        read -r last_trigger _ <<<"$(checkpoint_counts)"
        if ((last_trigger > HEAL_MS)); then checkpoint_ms=$(( $(now_ms) - t0 )); break; fi
      fi
      sleep 0.5
    done
    if [[ -z "$checkpoint_ms" ]]; then
      ok=0; note="${note:+$note; }not recovered in ${RECOVERY_TIMEOUT} s (state $state)"
    else
      deadline=$((SECONDS + 120))
      until others_running; do ((SECONDS < deadline)) || { ok=0; note="${note:+$note; }not every job RUNNING again in 120 s"; break; }; sleep 1; done
      ((checkpoint_ms > slowest)) && { slowest=$checkpoint_ms; slowest_fault="#$n $fault"; }
    fi
    r1="$(restarts)"; read -r _ failed1 _ <<<"$(checkpoint_counts)"; exp1="$(expired)"; main_exp1="$(expired "$JID")"
    case "$fault" in
      bad-input|model-fail) shown="$(expect_no_restart "$r0" "$r1")" || ok=0 ;;
      s3-down)
        # a checkpoint triggered while the store is down fails, or waits for it and completes late
        if ((S3_DOWN_COMPLETED == 0)); then shown="no checkpoint completed while it was down, $((failed1 - failed0)) failed"
        else shown="$S3_DOWN_COMPLETED checkpoint(s) completed while the store was down?"; ok=0; fi
        shown+=", $(expect_no_restart "$r0" "$r1")" || ok=0 ;;
      checkpoint-timeout)
        if ((exp1 > exp0)); then
          shown="$((exp1 - exp0)) checkpoint(s) expired after ${CHECKPOINT_TIMEOUT_S} s ($((main_exp1 - main_exp0)) of this job's)"
        else shown="no checkpoint expired"; ok=0; fi
        shown+=", $(expect_no_restart "$r0" "$r1")" || ok=0 ;;
      jm-kill) shown="jobs recovered by the new JobManager" ;;
      *) ((r1 >= r0)) && shown="$((r1 - r0)) restart(s)" || shown="restarted" ;;
    esac
    down="-"; [[ -n "$running_ms" ]] && down="$(seconds "$running_ms") s"
    ckpt="-"; [[ -n "$checkpoint_ms" ]] && ckpt="$(seconds "$checkpoint_ms") s"
    result=PASS; ((ok)) || result=FAIL
    ((ok)) && passed=$((passed + 1)) || failed=$((failed + 1))
    rows+=("$(printf '%3d  %-19s %12s %14s  %-4s  %s' "$n" "$fault" "$down" "$ckpt" "$result" "$shown${note:+; $note}")")
    log "${rows[-1]}"
  done
done

# --- the audit --------------------------------------------------------------------------------------------------------
log "audit: every event written since the start, read_committed (waits up to ${AUDIT_TIMEOUT} s for the last outcomes)"
audit_out="$(audit_tool check "$RUN/chaos.mark" "$AUDIT_TIMEOUT" 2>>"$CHAOS_LOG")"; audit_rc=$?
echo "$audit_out" >>"$CHAOS_LOG"
final="$(main_state)"
[[ "$final" == RUNNING ]] && others_running || { audit_rc=1; audit_out+=$'\n'"the jobs are not all RUNNING at the end (main job: $final)"; }
((audit_rc == 0)) && passed=$((passed + 1)) || failed=$((failed + 1))

echo
echo "== chaos: $n faults on job $JID ($backend model, $DELIVERY, checkpoints every ${CHECKPOINT_S} s) =="
printf '%3s  %-19s %12s %14s  %-4s  %s\n' "#" fault "RUNNING after" "checkpoint after" "" "what it did"
printf '%s\n' "${rows[@]}"
echo "(times from the fault; '-' under RUNNING: the job never stopped running)"
echo
echo "audit ($( ((audit_rc == 0)) && echo PASS || echo FAIL )):"
sed 's/^/  /' <<<"$audit_out"
((slowest > 0)) && echo "slowest recovery: $(seconds "$slowest") s ($slowest_fault)"
echo "chaos: $passed passed, $failed failed"
((failed == 0))
