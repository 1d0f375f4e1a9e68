#!/usr/bin/env bash
# End-to-end test of the local stack: up.sh, then checks through REST, Kafka and S3, a stop-with-savepoint and a
# resume, model versions rolled out and back (deploy/local/model.sh), Prometheus (targets, rules, an alert, every
# dashboard query), events from a producer in another language (Node.js), the SQL path (the KPI job's records, the SQL
# recipes through the gateway), the ops job's alert on a latency spike the generator plays in, one round of chaos.sh's
# faults with its audit, an exactly-once duplicate check across all of it, then down.sh.
#   deploy/local/e2e.sh           run it all, stop the stack at the end (down.sh, keeps run/data)
#   deploy/local/e2e.sh --keep    leave the stack running at the end
#   deploy/local/e2e.sh --wipe    end with down.sh --wipe
# Exit status 0 only if every check passed.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
keep=0; down_opts=()
for a in "$@"; do
  case "$a" in
    --keep) keep=1 ;;
    --wipe) down_opts=(--wipe) ;;
    *) die "unknown option $a" ;;
  esac
done
PART=e2e
T0=$SECONDS
E2E_START_MS=$(date +%s%3N)
# The generator plays a latency spike into chat from a minute after its submission for three minutes: the ops job
# must notice it (check 12).
export GENERATOR_ARGS="${GENERATOR_ARGS:---fault latency-spike --fault.feature chat --fault.start 1min --fault.duration 3min}"
results=()
failed=0
pass() { results+=("PASS  $*"); log "PASS  $*"; }
failc() { results+=("FAIL  $*"); log "FAIL  $*"; failed=1; }
finish() {
  if [[ "$keep" == 0 ]]; then
    log "down.sh ${down_opts[*]}"
    "$LOCAL_DIR/down.sh" "${down_opts[@]}" >"$LOGS/e2e-down.log" 2>&1 || failc "down.sh failed (log $LOGS/e2e-down.log)"
    left="$(pgrep -f -- "-Dflinkai.local.part=.*$RUN/" || true)"
    [[ -z "$left" ]] && pass "down.sh left no process of the stack" || failc "processes still running after down.sh: $left"
  fi
  echo
  echo "== e2e summary ($((SECONDS - T0)) s) =="
  printf '  %s\n' "${results[@]}"
  [[ "$failed" == 0 ]] && echo "  RESULT: all checks passed" || echo "  RESULT: FAILED"
  local passed=0 failures=0 r
  for r in "${results[@]}"; do [[ "$r" == PASS* ]] && passed=$((passed + 1)) || failures=$((failures + 1)); done
  echo "e2e: $passed passed, $failures failed"
  exit "$failed"
}
abort() { failc "$*"; finish; }

# 0. a bad setting is refused by the job's own check before anything starts (only when no stack runs yet)
if [[ -z "$(pgrep -f -- "-Dflinkai.local.part=.*$RUN/" || true)" ]]; then
  if DELIVERY=exactly-twice "$LOCAL_DIR/up.sh" >"$LOGS/e2e-bad-setting.log" 2>&1; then
    failc "up.sh accepted DELIVERY=exactly-twice"
  elif grep -q "DELIVERY=exactly-twice .* is refused by ContextInferenceJob: Invalid setting --delivery" "$LOGS/e2e-bad-setting.log" \
      && [[ -z "$(pgrep -f -- "-Dflinkai.local.part=.*$RUN/" || true)" ]]; then
    pass "DELIVERY=exactly-twice refused before any process started: $(grep -o 'Invalid setting --delivery[^(]*' "$LOGS/e2e-bad-setting.log" | head -n 1)"
  else
    failc "DELIVERY=exactly-twice: up.sh failed, but not as expected (log $LOGS/e2e-bad-setting.log)"
  fi
fi

# 0b. the Prometheus rules and configs are valid and their unit tests pass
if out="$("$REPO_DIR/deploy/prometheus/check.sh" 2>&1)"; then pass "promtool: rules and configs valid, the rules' unit tests pass"
else failc "deploy/prometheus/check.sh: $(grep -m 1 -E 'FAILED|rror' <<<"$out")"; fi

# 1. the stack and the jobs
log "up.sh"
if "$LOCAL_DIR/up.sh" >"$LOGS/e2e-up.log" 2>&1; then pass "up.sh ($(grep -o 'up in [0-9]* s' "$LOGS/e2e-up.log" || echo done))"
else tail -n 20 "$LOGS/e2e-up.log"; abort "up.sh failed (log $LOGS/e2e-up.log)"; fi
JID="$(job_id_by_name "$JOB_NAME")"
[[ -n "$JID" ]] || abort "no running job named $JOB_NAME"

# 2. job RUNNING without restarts
check_no_restarts() { # check_no_restarts <job id> <label>
  local st restarts exc
  st="$(job_state "$1")"
  restarts="$(rest_get "/jobs/$1/metrics?get=numRestarts" | jq -r '.[0].value // "?"')"
  exc="$(rest_get "/jobs/$1/exceptions" | jq -r '.exceptionHistory.entries | length')"
  if [[ "$st" == RUNNING && "$restarts" == 0 && "$exc" == 0 ]]; then pass "$2: job $1 RUNNING, numRestarts 0, no exceptions"
  else failc "$2: job $1 state $st, numRestarts $restarts, exceptions $exc ($FLINK_URL/#/job/running/$1/exceptions)"; fi
}
check_no_restarts "$JID" "job"

# 3. predictions keep arriving, each with a modelVersion
if out="$(predictions_tool tail 100 90 2>&1)"; then pass "predictions arrive with modelVersion: $(head -n 1 <<<"$out")"
else failc "predictions: $(head -n 1 <<<"$out")"; fi

# 4. a completed checkpoint whose files are in the bucket
deadline=$((SECONDS + 90)); cp=""
while ((SECONDS < deadline)); do
  cp="$(rest_get "/jobs/$JID/checkpoints" | jq -r 'select(.counts.completed > 0) | .latest.completed.external_path // empty')"
  [[ -n "$cp" ]] && break; sleep 2
done
if [[ -n "$cp" ]]; then
  key="${cp#s3://"$S3_BUCKET_FLINK"/}"
  meta="$(s3_tool ls "$S3_BUCKET_FLINK" "$key/_metadata" 1 2>&1 | tail -n 1)"
  all="$(s3_tool ls "$S3_BUCKET_FLINK" "checkpoints/$JID/" 0 2>&1 | tail -n 1)"
  # Flink counts a trigger while a task still starts (its first is due 5-10 s after scheduling, the model loads in
  # 3 s here and longer on a loaded machine) as a failed checkpoint; only checkpoints that started and failed count here.
  failed_cps="$(rest_get "/jobs/$JID/checkpoints" | jq -r '.counts.failed')"
  early="$(not_yet_running_triggers "$JID")"
  if ((failed_cps - early == 0)); then
    pass "no failed checkpoint$( ((early > 0)) && echo " ($early trigger(s) before all tasks ran, skipped by Flink)")"
  else failc "$((failed_cps - early)) failed checkpoint(s) of job $JID (see $LOGS/jobmanager.log: 'Failed to trigger or complete checkpoint')"; fi
  if [[ "$meta" == "count 1" ]]; then pass "checkpoint $cp completed; _metadata in the bucket (checkpoints/$JID/: ${all#count } objects)"
  else failc "checkpoint $cp completed but s3://$S3_BUCKET_FLINK/$key/_metadata not listed ($meta)"; fi
else failc "no completed checkpoint within 90 s ($(rest_get "/jobs/$JID/checkpoints" | jq -c .counts))"; fi

# 5. the TaskManager's Prometheus endpoint serves the job's inference metrics
prom=""
IFS=- read -r p_lo p_hi <<<"$PROM_PORTS"
for ((p = p_lo; p <= p_hi; p++)); do
  m="$(curl -s --max-time 5 "http://127.0.0.1:$p/metrics" 2>/dev/null \
    | grep -E '^flink_taskmanager_job_task_operator_[A-Za-z0-9_]*inference[A-Za-z0-9_]*\{' | grep -F "job_id=\"$JID\"" || true)"
  if [[ -n "$m" ]]; then prom="$p"; break; fi
done
if [[ -n "$prom" ]]; then
  names="$(grep -oE '^[A-Za-z0-9_]+' <<<"$m" | sort -u)"
  served="$(grep '^flink_taskmanager_job_task_operator_inference_lane_predictions{' <<<"$m" | awk '{s += $NF} END {printf "%d", s}')"
  if [[ "${served:-0}" -gt 0 ]]; then
    pass "Prometheus :$prom serves $(wc -l <<<"$names") inference metrics of the job, inference_lane_predictions = $served"
  else failc "Prometheus :$prom: inference metrics present but inference_lane_predictions is ${served:-absent}"; fi
else failc "no flink_taskmanager_job_task_operator_*inference* metric of job $JID on ports $PROM_PORTS"; fi

# 5b. Prometheus scrapes the JobManager and every TaskManager, and loaded every rule
PROM_URL="http://$PROMETHEUS_HOST:$PROMETHEUS_PORT"
prom_targets() { curl -s --max-time 5 "$PROM_URL/api/v1/targets" | jq -c '[.data.activeTargets[] | {job: .labels.job, instance: .labels.instance, health}]'; }
deadline=$((SECONDS + 30))
until targets="$(prom_targets)" && jq -e 'length >= 2 and all(.health == "up")' <<<"$targets" >/dev/null; do
  ((SECONDS < deadline)) || break; sleep 2
done
registered="$(rest_get /taskmanagers | jq '.taskmanagers | length')"
scraped="$(jq '[.[] | select(.job == "flink-taskmanager" and .health == "up")] | length' <<<"${targets:-[]}")"
if jq -e 'length >= 2 and all(.health == "up")' <<<"${targets:-[]}" >/dev/null && [[ "$scraped" == "$registered" ]]; then
  pass "Prometheus $PROM_URL scrapes $(jq -r 'map("\(.job) \(.instance)") | join(", ")' <<<"$targets"): all up, $scraped of $registered TaskManagers"
else failc "Prometheus targets: ${targets:-none} ($registered TaskManagers registered; log $LOGS/prometheus.log)"; fi
expected="$(cat "$REPO_DIR"/deploy/prometheus/rules/*.rules.yml | grep -cE '^ +- (alert|record):')"
rules="$(curl -s --max-time 5 "$PROM_URL/api/v1/rules")"
loaded="$(jq '[.data.groups[].rules[]] | length' <<<"$rules" 2>/dev/null)"
broken="$(jq -r '[.data.groups[].rules[] | select(.health == "err") | "\(.name): \(.lastError)"] | join("; ")' <<<"$rules" 2>/dev/null)"
if [[ "$loaded" == "$expected" && -z "$broken" ]]; then
  pass "Prometheus loaded the $loaded rules of deploy/prometheus/rules ($(jq '[.data.groups[].rules[] | select(.type == "alerting")] | length' <<<"$rules") alerting), none failing"
else failc "Prometheus rules: ${loaded:-none} loaded of $expected; failing: ${broken:-none}"; fi

# 6. the web UI
if curl -sf --max-time 10 "$FLINK_URL/" | grep -qi 'flink'; then pass "web UI index served at $FLINK_URL/"
else failc "web UI index not served at $FLINK_URL/"; fi

# 7. stop with savepoint, resume, no duplicate across the restart
if sp="$(stop_with_savepoint "$JID" 120 2>"$LOGS/e2e-savepoint.log")"; then
  pass "stop-with-savepoint: $sp"
  deadline=$((SECONDS + 60))
  while [[ "$(job_state "$JID")" != FINISHED ]] && ((SECONDS < deadline)); do sleep 1; done
  [[ "$(job_state "$JID")" == FINISHED ]] || failc "job $JID not FINISHED after stop ($(job_state "$JID"))"
  mapfile -t MAIN_ARGS < <(main_job_args)
  if jar="$(upload_jar)" && JID2="$(run_jar "$jar" "$JOB_CLASS" "$JOB_PARALLELISM" "$sp" "${MAIN_ARGS[@]}" 2>>"$LOGS/e2e-savepoint.log")"; then
    echo "$JID2" >"$RUN/$JOB_NAME.jobid"
    deadline=$((SECONDS + 120))
    until job_fully_running "$JID2"; do
      ((SECONDS < deadline)) || break
      [[ "$(job_state "$JID2")" =~ FAILED|CANCELED|FINISHED ]] && break
      sleep 1
    done
    if job_fully_running "$JID2"; then
      restored="$(rest_get "/jobs/$JID2/checkpoints" | jq -r '.latest.restored.external_path // empty')"
      if [[ "$restored" == "$sp" ]]; then pass "resumed job $JID2 RUNNING, restored from $restored"
      else failc "resumed job $JID2 RUNNING but restored from '${restored}', not $sp"; fi
      if out="$(predictions_tool tail 100 90 2>&1)"; then pass "predictions after resume: $(head -n 1 <<<"$out")"
      else failc "predictions after resume: $(head -n 1 <<<"$out")"; fi
      check_no_restarts "$JID2" "resumed job"
    else
      failc "resumed job $JID2 not RUNNING ($(job_state "$JID2"); $FLINK_URL/#/job/completed/$JID2/exceptions)"
    fi
  else
    failc "resume from $sp refused (log $LOGS/e2e-savepoint.log)"
  fi
else
  failc "stop-with-savepoint failed: $(tail -n 1 "$LOGS/e2e-savepoint.log")"
fi
# 8. remote backend: the model server killed for 30 s mid-run, then started again
breaker_states() { # the remoteBreakerState gauges of the running job, from every TaskManager endpoint
  local p lo hi
  IFS=- read -r lo hi <<<"$PROM_PORTS"
  for ((p = lo; p <= hi; p++)); do
    curl -s --max-time 2 "http://127.0.0.1:$p/metrics" 2>/dev/null | grep '^flink_taskmanager_job_task_operator_inference_lane_model_remoteBreakerState{' || true
  done | awk '{print $NF}' | sort | uniq -c | tr '\n' ' '
}
if [[ "$MODEL_BACKEND" == remote ]]; then
  JID="$(job_id_by_name "$JOB_NAME")"
  if out="$(predictions_tool tail 100 90 2>&1)" && grep -Eq 'servedBy \{[^}]*remote=[1-9]' <<<"$out"; then
    pass "the model server answers: $(head -n 1 <<<"$out")"
  else failc "no predictions served by the model server: $(head -n 1 <<<"$out")"; fi
  down_ms=$(date +%s%3N)
  PART=model-server stop_part model-server KILL >>"$LOGS/e2e-outage.log" 2>&1
  opened=""
  for _ in $(seq 60); do
    if breaker_states | grep -q ' 1.0'; then opened=$(( $(date +%s%3N) - down_ms )); break; fi
    sleep 0.5
  done
  [[ -n "$opened" ]] && pass "model server killed: a circuit breaker opened ${opened} ms later ($(breaker_states))" \
    || failc "model server killed: no circuit breaker opened within 30 s ($(breaker_states))"
  if out="$(predictions_tool served-after local "$down_ms" 60 2>&1)"; then pass "while it is down the in-process model answers: $out"
  else failc "while it is down: $out"; fi
  sleep $(( 30 - ($(date +%s%3N) - down_ms) / 1000 ))
  ( UP_FUNCTIONS_ONLY=1 source "$LOCAL_DIR/up.sh" && start_model_server && PART=model-server wait_until model-server \
      "$LOGS/model-server.log" 90 model_server_ready ) >>"$LOGS/e2e-outage.log" 2>&1
  back_ms=$(date +%s%3N)
  if out="$(predictions_tool served-after remote "$back_ms" 60 2>&1)"; then
    ms="$(grep -o 'made [0-9]* ms' <<<"$out" | grep -o '[0-9]*')"
    [[ "${ms:-99999}" -lt 10000 ]] && pass "30 s later the server is back: its answers resume, the first $ms ms after its return" \
      || failc "the server's answers resumed only $ms ms after its return"
  else failc "after the server's return: $out"; fi
  seen="$(curl -s --max-time 10 -G --data-urlencode 'query=count by (alertstate) (count_over_time(ALERTS{alertname="InferenceCircuitBreakerOpen"}[5m]))' \
    "$PROM_URL/api/v1/query" | jq -r '[.data.result[].metric.alertstate] | sort | join(" and ")')"
  [[ -n "$seen" ]] && pass "Prometheus saw the outage: InferenceCircuitBreakerOpen $seen" \
    || failc "Prometheus: InferenceCircuitBreakerOpen neither pending nor firing during the outage ($PROM_URL/alerts)"
  check_no_restarts "$JID" "job through the outage"
fi

# 9. model versions rolled out to the running job and back, without a restart; a broken one rejected
publish_and_check() { # publish_and_check <file.pt> <version>: published, ACTIVE on every subtask, predictions switch
  local at out
  if ! at="$("$LOCAL_DIR/model.sh" publish "$1" --version "$2" --notes e2e 2>>"$LOGS/e2e-model.log" | tail -n 1)"; then
    failc "model.sh publish $1 --version $2 failed (log $LOGS/e2e-model.log)"; return
  fi
  local grace=10 active_ms
  if out="$("$LOCAL_DIR/model.sh" await ACTIVE "$2" "$JOB_PARALLELISM" "$at" 90 2>&1)"; then pass "model $2 published: $out"
  else failc "model $2 published but not active: $out ($("$LOCAL_DIR/model.sh" status --since "$at" 2>&1 | tr '\n' ' '))"; fi
  # every prediction made once the last subtask switched (2 s later, for batches already scored) is of the new version;
  # the switch itself takes longer while the other jobs share the two cores
  active_ms="$(grep -o 'the last [0-9]* ms after' <<<"$out" | grep -o '[0-9]*' || true)"
  [[ -n "$active_ms" ]] && grace=$(( (active_ms + 999) / 1000 + 2 > 10 ? (active_ms + 999) / 1000 + 2 : 10 ))
  if out="$(predictions_tool version-after "$2" "$at" "$grace" 90 2>&1)"; then pass "predictions switch to $2: $out"
  else failc "predictions after publishing $2: $out"; fi
}
JID="$(job_id_by_name "$JOB_NAME")"
publish_and_check "$REPO_DIR/notebooks/model/next_event_mlp_v2.pt" 2.0.0
if [[ "$MODEL_BACKEND" == remote ]]; then
  served_sha="$(curl -sf --max-time 10 "$MODEL_SERVER_URI/versions/2.0.0" | jq -r '.parameters.sha256 // empty')"
  [[ "$served_sha" == "$(sha256sum "$REPO_DIR/notebooks/model/next_event_mlp_v2.pt" | cut -d' ' -f1)" ]] \
    && pass "the model server serves 2.0.0 from $MODEL_REPOSITORY (sha256 ${served_sha:0:12}...)" \
    || failc "the model server's 2.0.0 has sha256 '$served_sha', not the published file's"
fi
broken="$(mktemp -d)"
head -c 4096 /dev/urandom >"$broken/broken.pt"
cp "$REPO_DIR/notebooks/model/next_event_mlp.json" "$broken/broken.json"
if at="$("$LOCAL_DIR/model.sh" publish "$broken/broken.pt" --version 9.9.9-broken 2>>"$LOGS/e2e-model.log" | tail -n 1)" \
    && out="$("$LOCAL_DIR/model.sh" await REJECTED 9.9.9-broken "$JOB_PARALLELISM" "$at" 90 2>&1)"; then
  pass "a file that is not TorchScript is rejected: $out"
  if out="$(predictions_tool version-after 2.0.0 "$at" 0 60 2>&1)"; then pass "2.0.0 keeps serving: $out"
  else failc "after the rejected version: $out"; fi
else failc "the broken version: $out"; fi
rm -rf "$broken"
publish_and_check "$REPO_DIR/notebooks/model/next_event_mlp.pt" 1.0.0   # roll back
out="$("$LOCAL_DIR/model.sh" status 2>&1)" && pass "model.sh status: $(tr '\n' ' ' <<<"$out")" || failc "model.sh status: $out"
check_no_restarts "$JID" "job through the model updates"

# 9b. a producer in another language, built from the .avsc files alone (Node.js: kafkajs + avsc) writes 50 events
# for three users; each gets exactly one prediction, for its user
NODE_PRODUCER="$TOOLS/node-producer"
if [[ ! -d "$NODE_PRODUCER/node_modules" ]] && command -v npm >/dev/null; then
  (cd "$NODE_PRODUCER" && npm ci --no-audit --no-fund) >"$LOGS/e2e-node-producer.log" 2>&1
fi
if ! command -v node >/dev/null || [[ ! -d "$NODE_PRODUCER/node_modules" ]]; then
  failc "Node.js producer: needs node and 'npm ci' in $NODE_PRODUCER (.ci/run installs both; log $LOGS/e2e-node-producer.log)"
else
  since="$(date +%s%3N)"
  if node "$NODE_PRODUCER/produce.js" --bootstrap "$KAFKA_BOOTSTRAP" --topic "$TOPIC_EVENTS" --run "e2e-$since" \
      --users node-user-1,node-user-2,node-user-3 --count 50 >"$RUN/e2e-node-events.tsv" 2>>"$LOGS/e2e-node-producer.log"; then
    if out="$(predictions_tool events "$since" 120 "$RUN/e2e-node-events.tsv" 2>&1)"; then
      pass "Node.js producer (kafkajs + avsc, from schemas/*.avsc): $out"
    else failc "Node.js producer's events: $out"; fi
  else failc "Node.js producer failed: $(tail -n 1 "$LOGS/e2e-node-producer.log")"; fi
fi

# 10. the SQL path: the KPI job runs and writes kpis; the SQL Gateway answers; the SQL recipes give rows
KPI_JID="$(job_id_by_name "$KPI_NAME")"
if [[ -n "$KPI_JID" && "$(job_state "$KPI_JID")" == RUNNING ]]; then pass "KPI job $KPI_NAME RUNNING ($KPI_JID)"
else failc "KPI job $KPI_NAME not RUNNING (${KPI_JID:-not submitted})"; fi
kpi_bytes="$("$JAVA" -Xmx256m -cp "$CACHE/broker/lib/*" org.apache.kafka.tools.consumer.ConsoleConsumer \
  --bootstrap-server "$KAFKA_BOOTSTRAP" --topic "$TOPIC_KPIS" --from-beginning --max-messages 1 --timeout-ms 240000 \
  2>>"$LOGS/e2e-kpis.log" | wc -c)"
if [[ "$kpi_bytes" -gt 0 ]]; then pass "$TOPIC_KPIS receives KPI records (windows of $KPI_WINDOW)"
else failc "no record on $TOPIC_KPIS within 240 s (log $LOGS/e2e-kpis.log; job $FLINK_URL/#/job/running/$KPI_JID)"; fi
if out="$(curl -sf --max-time 10 "http://$SQL_GATEWAY_HOST:$SQL_GATEWAY_PORT/v1/info")"; then pass "SQL Gateway on $SQL_GATEWAY_PORT: $out"
else failc "no SQL Gateway on $SQL_GATEWAY_HOST:$SQL_GATEWAY_PORT"; fi
# The README's SQL recipes through the gateway (in the in-process run only: SQL does not use the main job's backend).
run_recipe() { # run_recipe FILE: deploy/local/sql.sh -f FILE, its output in $LOGS/e2e-sql-<name>.log; prints the log's path
  local log="$LOGS/e2e-sql-$(basename "$1" .sql).log"
  timeout 300 "$LOCAL_DIR/sql.sh" -f "$1" >"$log" 2>&1 || true
  echo "$log"
}
if [[ "$MODEL_BACKEND" != remote ]]; then
  log="$(run_recipe "$LOCAL_DIR/sql/score-live-events.sql")"
  rows="$(grep -c '^| +I |' "$log")"; served="$(grep '^| +I |' "$log" | grep -c '| *FALSE *|$')"
  if [[ "$rows" -gt 0 && "$served" == "$rows" ]]; then
    pass "SQL recipe score-live-events: ML_PREDICT over the live $TOPIC_EVENTS gave $rows predictions, all from the model ($(grep '^| +I |' "$log" | head -n 1 | tr -s ' '))"
  else failc "SQL recipe score-live-events: $rows rows, $served not fallbacks (log $log)"; fi
  log="$(run_recipe "$LOCAL_DIR/sql/task-completion.sql")"
  row='^\| +[a-z]+ \| +[0-9]+ \| +[0-9.]+ \| +(TRUE|FALSE) \|$'
  rows="$(grep -cE "$row" "$log")"
  if [[ "$rows" -gt 0 ]]; then pass "SQL recipe task-completion: $rows features ($(grep -E "$row" "$log" | head -n 1 | tr -s ' '))"
  else failc "SQL recipe task-completion: no feature row (log $log)"; fi
  log="$(run_recipe "$LOCAL_DIR/sql/predictions-and-kpis.sql")"
  row='^\| +[a-z]+ \| +[0-9]+ \| .* [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ \|'
  rows="$(grep -cE "$row" "$log")"
  if [[ "$rows" -gt 0 ]]; then pass "SQL recipe predictions-and-kpis: $rows features with predictions and a KPI window ($(grep -E "$row" "$log" | head -n 1 | tr -s ' '))"
  else failc "SQL recipe predictions-and-kpis: no feature with predictions and KPIs (log $log)"; fi
  sed "s/'max-batch-size'/'max-batchsize'/" "$LOCAL_DIR/sql/score-live-events.sql" >"$RUN/misspelt-option.sql"
  log="$(run_recipe "$RUN/misspelt-option.sql")"
  if grep -q "Unsupported options found for 'flinkai'" "$log" && grep -qx "max-batchsize" "$log"; then
    pass "SQL: a misspelt model option is refused, naming it (max-batchsize)"
  else failc "SQL: the misspelt option max-batchsize was not refused as expected (log $log)"; fi
fi

# 11. every query of the Grafana dashboard returns data from the live Prometheus; no alert fires on a healthy stack
may_be_empty=()
[[ "$MODEL_BACKEND" == remote ]] || may_be_empty+=(--may-be-empty "Circuit breaker" --may-be-empty "Remote model calls")
[[ "${JOB_ARGS:-}" == *--model.cache.size* ]] || may_be_empty+=(--may-be-empty "Result cache hit ratio")
if "$REPO_DIR/deploy/grafana/check-queries.sh" "$PROM_URL" "${may_be_empty[@]}" >"$LOGS/e2e-dashboard.log" 2>&1; then
  pass "dashboard: $(tail -n 1 "$LOGS/e2e-dashboard.log"), $(grep -c '^.* OK ' "$LOGS/e2e-dashboard.log") with data"
else failc "dashboard queries without data: $(grep -E '  (EMPTY|ERROR)' "$LOGS/e2e-dashboard.log" | grep -v allowed | sed -E 's/ +(EMPTY|ERROR).*//' | paste -sd, -) (log $LOGS/e2e-dashboard.log)"; fi
if [[ "$MODEL_BACKEND" != remote ]]; then   # the remote run's outage fires the breaker and fallback alerts, rightly
  # (the ops job's alerts are left to check 12: the generator plays a fault in on purpose)
  firing="$(curl -s --max-time 10 -G --data-urlencode 'query=ALERTS{alertstate="firing",alertname!="OpsJobAlertsOpen"}' "$PROM_URL/api/v1/query" \
    | jq -r '[.data.result[].metric | "\(.alertname) \(.job_name // .instance // "")"] | join(", ")')"
  [[ -z "$firing" ]] && pass "no Prometheus alert fires on the healthy stack" || failc "alerts fire on the healthy stack: $firing ($PROM_URL/alerts)"
fi

# 12. the ops job runs, and the generator's latency spike in chat raised an alert on $TOPIC_ALERTS that warned,
# escalated to CRITICAL and resolved (windows of a minute; a window is reported 30 s after its end)
OPS_JID="$(job_id_by_name "$OPS_NAME")"
if [[ -n "$OPS_JID" && "$(job_state "$OPS_JID")" == RUNNING ]]; then
  pass "ops job $OPS_NAME RUNNING ($OPS_JID)"
  check_no_restarts "$OPS_JID" "ops job"
else failc "ops job $OPS_NAME not RUNNING (${OPS_JID:-not submitted})"; fi
if [[ "$GENERATOR_ARGS" == *"--fault latency-spike --fault.feature chat --fault.start 1min --fault.duration 3min"* ]]; then
  # resolved two windows after the spike, which ends 4 min after the generator's submission (~2 min after e2e began)
  wait_s=$(( (E2E_START_MS + 11 * 60000 - $(date +%s%3N)) / 1000 )); ((wait_s < 60)) && wait_s=60
  if out="$(alerts_tool episode 'feature=chat,model=[^,]+,metric=latencyP99' "$E2E_START_MS" "$wait_s" 2>&1)"; then
    pass "ops job: the generator's latency spike in chat: $out"
  else failc "ops job: the latency spike in chat: $(tail -n 1 <<<"$out") ($FLINK_URL/#/job/running/$OPS_JID)"; fi
  minutes=$(( ($(date +%s%3N) - E2E_START_MS) / 60000 + 1 ))
  seen="$(curl -s --max-time 10 -G --data-urlencode "query=max_over_time(ALERTS{alertname=\"OpsJobAlertsOpen\",alertstate=\"firing\"}[${minutes}m])" \
    "$PROM_URL/api/v1/query" | jq -r '[.data.result[].metric.job_name] | join(", ")')"
  [[ -n "$seen" ]] && pass "Prometheus saw it: OpsJobAlertsOpen fired for $seen" \
    || failc "Prometheus: OpsJobAlertsOpen did not fire during the latency spike ($PROM_URL/alerts)"
fi

# 13. faults: one round of deploy/local/chaos.sh (each of its faults once, the JobManager kill through ZooKeeper HA),
# then its read_committed audit: every event since the first fault has exactly one prediction or dead letter
if [[ "$DELIVERY" == exactly-once ]]; then
  log "chaos.sh --rounds 1 (log $LOGS/e2e-chaos.log)"
  if "$LOCAL_DIR/chaos.sh" --rounds 1 >"$LOGS/e2e-chaos.log" 2>&1; then
    pass "$(tail -n 1 "$LOGS/e2e-chaos.log"); $(grep -m 1 '^slowest recovery' "$LOGS/e2e-chaos.log"); audit: $(grep -m 1 '^  audit ' "$LOGS/e2e-chaos.log" | sed 's/^ *//')"
  else
    failc "$(tail -n 1 "$LOGS/e2e-chaos.log"): $(grep -E '^ *[0-9]+ .* FAIL ' "$LOGS/e2e-chaos.log" | tr -s ' ' | paste -sd';' -) $(grep -m 1 '^  audit ' "$LOGS/e2e-chaos.log") (log $LOGS/e2e-chaos.log)"
  fi
fi

if [[ "$DELIVERY" == exactly-once ]]; then
  # it holds every event id of both topics, which grow with every run that keeps run/data
  if out="$(TOOL_HEAP=2g predictions_tool dups 180 "$TOPIC_EVENTS" 2>&1)"; then pass "exactly-once: $(head -n 1 <<<"$out")"
  else failc "exactly-once: $(head -n 2 <<<"$out" | tr '\n' ' ')"; fi
fi

finish
