#!/usr/bin/env bash
# End-to-end benchmark of the scoring job on the local stack (project issue 4). One run measures:
#   throughput  events per TaskManager CPU-second and events per wall second, at parallelism 1 and 2, of
#               limit_kafka (Kafka -> Avro decode -> encode -> Kafka, bench.KafkaPassThroughJob),
#               naive       (the job with one synchronous DJL call per event, bench.NaiveInferenceJob),
#               ours        (ContextInferenceJob from the production jar), all over the same pre-filled topic;
#               limit_model (raw DJL rows per CPU-second at the job's batch size, no Flink, bench.ModelLimitBench);
#               remote and naive_remote (on request): ours scoring through the model server (deploy/model-server),
#               and one HTTP request per event as Flink's ML_PREDICT providers do (bench.NaiveRemoteInferenceJob);
#               their CPU counts the model server's too;
#   latency     ours in at-least-once mode at half its p1 maximum rate (bench.LatencyProbe, HdrHistogram);
#   overload    (--overload) ours through a model server that computes one request at a time, each for
#               --overload-delay-ms more, highest priority first, at --overload-rate with 5 % priority events,
#               at-least-once: latency of each lane and who answered;
#   state       RocksDB live SST bytes per user of ours after U distinct users (bench.StateSizeJob).
# The bench.* classes are this folder's Maven module (deploy/bench/target/flink-ai-bench.jar), not the production jar.
# Writes target/bench/results.json, results.md, results.png (raw measurements in target/bench/raw/); the history of
# what was measured and tuned is in deploy/bench/RESULTS.md.
#
#   deploy/bench/run.sh --quick        N=2M events / U=100k users, state at 100k users, 30 s latency (< 10 min)
#   deploy/bench/run.sh                full: N=10M / U=1M, state at 1M users, 120 s latency (about 20 min)
# N is large enough that the measured window (after the first 20 % of the events) is mostly past JIT compilation:
# every run starts a fresh TaskManager, whose compiler threads still took 14 % of its CPU 10-20 s after the start.
# ours at 1M users, same build: 109,575 events per TM CPU-s with N=5M (a 25 s window), 120,807 with N=10M (47 s).
# Options: --events N  --users U  --state-users S  --parallelism "1 2"  --pipelines "limit_kafka naive ours"
#          --latency-seconds S  --latency-rate R (default: half of ours' p1 events/s)
#          --pipelines may add remote, naive_remote; --overload [--overload-rate R] [--overload-delay-ms D]
#          --latency-low-rate R (default 1000, 0: none)  --skip-latency  --skip-state  --no-build
#          --tm-restart each|needed   a fresh TaskManager before every measured run (default), or only when its
#                                     Metaspace is over 55 % full (see restart_tm)
#          --tm-per-subtask   run each measured job at parallelism P on P TaskManagers of one slot each (the scaling
#                             runs of deploy/k8s/SIZING.md); CPU is summed over them, Prometheus figures too
# Environment: BENCH_DELIVERY (default: stack.env's DELIVERY, exactly-once) for naive, ours and limit_kafka;
#          BENCH_BATCH (default 64, the job's inference.max-batch-size) for ours and limit_model.
#          BENCH_JOB_ARGS: more arguments for every run of the jobs (e.g. "--rocksdb.write-buffer-size 64mb").
#
# The local stack is started when it is not up (SUBMIT_JOBS=0 deploy/local/up.sh). Jobs running on it are taken off
# first so nothing competes for CPU: the main job with a savepoint (the next deploy/local/up.sh resumes it), any
# other job cancelled. The stack keeps running at the end. Needs a single TaskManager (its CPU is what is measured).
# Each run also records network figures: bytes per record in the Kafka log (what crosses the wire to and from the
# brokers) and bytes per record on the job's own channels (the keyed shuffle), and the job's checkpoint history.
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../local/lib.sh
source "$BENCH_DIR/../local/lib.sh"
PART=bench
T_START=$SECONDS

TM_EACH=1; LAT_LOW_RATE=1000; mode=full; N=""; U=""; SU=""; PARS="1 2"; PIPES="limit_kafka naive ours"; LAT_S=""; LAT_RATE=""; skip_latency=0; skip_state=0; build=1
overload=0; TM_PER_SUBTASK=0; OVERLOAD_RATE=2000; OVERLOAD_DELAY_MS=5; OVERLOAD_PRIORITY_SHARE=0.05
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) mode=quick; shift ;;
    --full) mode=full; shift ;;
    --events) N="$2"; shift 2 ;;
    --users) U="$2"; shift 2 ;;
    --state-users) SU="$2"; shift 2 ;;
    --parallelism) PARS="$2"; shift 2 ;;
    --pipelines) PIPES="$2"; shift 2 ;;
    --latency-seconds) LAT_S="$2"; shift 2 ;;
    --latency-rate) LAT_RATE="$2"; shift 2 ;;
    --latency-low-rate) LAT_LOW_RATE="$2"; shift 2 ;;
    --skip-latency) skip_latency=1; shift ;;
    --skip-state) skip_state=1; shift ;;
    --overload) overload=1; shift ;;
    --overload-rate) OVERLOAD_RATE="$2"; shift 2 ;;
    --overload-delay-ms) OVERLOAD_DELAY_MS="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --tm-restart) [[ "$2" == each ]] && TM_EACH=1 || TM_EACH=0; shift 2 ;;
    --tm-per-subtask) TM_PER_SUBTASK=1; shift ;;
    -h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
if [[ "$mode" == quick ]]; then
  N="${N:-2000000}"; U="${U:-100000}"; SU="${SU:-100000}"; LAT_S="${LAT_S:-30}"; LAT_WARMUP=20; LAT_LOW_S=20; MODEL_S=10
else
  N="${N:-10000000}"; U="${U:-1000000}"; SU="${SU:-1000000}"; LAT_S="${LAT_S:-120}"; LAT_WARMUP=20; LAT_LOW_S=60; MODEL_S=10
fi
# The latency rate defaults to half of ours' p1 result: fail now rather than after the throughput runs.
if [[ "$skip_latency" == 0 && -z "$LAT_RATE" ]] && ! { [[ " $PIPES " == *" ours "* ]] && [[ " $PARS " == *" 1 "* ]]; }; then
  die "the latency step needs ours at parallelism 1 (its rate is half of that result): add them, or give --latency-rate R or --skip-latency"
fi
BENCH_DELIVERY="${BENCH_DELIVERY:-$DELIVERY}"
BENCH_BATCH="${BENCH_BATCH:-64}"
BENCH_JOB_ARGS="${BENCH_JOB_ARGS:-}"
GEN_RATE=1000000000   # "as fast as it goes"
CLK_TCK="$(getconf CLK_TCK)"

OUT="$REPO_DIR/target/bench"
RAW="$OUT/raw"
rm -rf "$RAW"; mkdir -p "$RAW"
STAMP="$(date +%Y%m%d-%H%M%S)"
TP="bench-$STAMP"
T_EVENTS="$TP-events"; T_OUT="$TP-out"; T_DL="$TP-dead-letters"
T_LAT_OUT="$TP-latency-out"; T_STATE="$TP-state-events"
BENCH_JAR="$BENCH_DIR/target/flink-ai-bench.jar"
TOOL_CP="$BENCH_JAR:$CACHE/tools/lib/slf4j-api-1.7.36.jar:$CACHE/tools/lib/slf4j-nop-1.7.36.jar"
DJL_JVM=(-Dai.djl.offline=true -Dai.djl.pytorch.num_threads=1 -Dai.djl.pytorch.num_interop_threads=1)

tool() { "$JAVA" -Xmx"${TOOL_XMX:-512m}" -cp "$TOOL_CP" "dev.flinkai.bench.$@"; }
elapsed() { echo "$((SECONDS - T_START)) s"; }
step() { log "[$(elapsed)] $*"; }

# --- 0. what the run needs: the plot's Python package, the production jar and the bench jar ----------------------------
if ! /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
    step "installing python3-matplotlib for the plot (apt-get; log target/bench/raw/apt.log)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-matplotlib; } >"$RAW/apt.log" 2>&1 \
      || { tail -n 20 "$RAW/apt.log" >&2; die "apt-get install python3-matplotlib failed"; }
  else
    die "the plot needs matplotlib for /usr/bin/python3: install the Debian package python3-matplotlib"
  fi
fi
if [[ "$build" == 1 ]]; then
  newer=""
  for jar in "$JOB_JAR" "$BENCH_JAR"; do
    [[ -f "$jar" ]] || { newer="$jar is missing"; break; }
    newer="$(find "$REPO_DIR/jobs/src/main" "$REPO_DIR/operators/src/main" "$REPO_DIR/schemas/src/main" \
      "$BENCH_DIR/src/main" -type f -newer "$jar" 2>/dev/null | head -n 1 || true)"
    [[ -z "$newer" ]] || break
  done
  if [[ -n "$newer" ]]; then
    step "building the job and bench jars (mvn -q -o -B -DskipTests install; log target/bench/raw/build.log)"
    (cd "$REPO_DIR" && { mvn -q -o -B -DskipTests install || { sleep 5; mvn -q -B -DskipTests install; }; }) \
      >"$RAW/build.log" 2>&1 || { tail -n 30 "$RAW/build.log" >&2; die "build failed"; }
  fi
fi

# --- 1. the stack, free of other jobs ------------------------------------------------------------------------------
step "local stack: SUBMIT_JOBS=0 deploy/local/up.sh (log target/bench/raw/up.log)"
SUBMIT_JOBS=0 "$LOCAL_DIR/up.sh" >"$RAW/up.log" 2>&1 || { tail -n 20 "$RAW/up.log" >&2; die "the local stack did not come up"; }
# restart_tm: a fresh TaskManager 1 (deploy/local/tm.sh). Needed because every job holds ~20 MB of Metaspace in the
# TaskManager until its classloader is collected, which the Okio watchdog thread of its model download delays to
# ~80 s after the job ends (it was ~6 min before the S3 client's timeouts were cut to 30 s), and the first job's
# classloader stayed pinned in the runs looked at. Jobs submitted back to back used to exhaust the default 256 MB
# ("OutOfMemoryError: Metaspace" after ~12 jobs).
# restart_tm [count] [slots]: fresh TaskManagers 1..count (default 1, with the stack's slots), the others stopped;
# TM_PID is TaskManager 1's pid, TM_PIDS all of them, comma-separated.
TM_COUNT=1
restart_tm() {
  local count="${1:-1}" slots="${2:-$TM_SLOTS}" n
  for ((n = 1; n <= (count > TM_COUNT ? count : TM_COUNT); n++)); do
    "$LOCAL_DIR/tm.sh" stop "$n" >>"$RAW/tm.log" 2>&1 || true
  done
  TM_PIDS=""
  for ((n = 1; n <= count; n++)); do
    TM_SLOTS="$slots" "$LOCAL_DIR/tm.sh" start "$n" >>"$RAW/tm.log" 2>&1 || { tail -n 5 "$RAW/tm.log" >&2; die "TaskManager $n did not restart"; }
    TM_PIDS+="${TM_PIDS:+,}$(pid_of "taskmanager-$n")" || die "no TaskManager $n process after restart"
  done
  TM_COUNT="$count"; TM_PID="${TM_PIDS%%,*}"
  TM_RESTARTS=$((TM_RESTARTS + 1))
}
tms_alive() { local p; for p in ${TM_PIDS//,/ }; do kill -0 "$p" 2>/dev/null || return 1; done; }
# tm_metaspace_ok: false when TaskManager 1 is gone or its Metaspace is more than 55 % full (REST, up to 10 s old)
tm_metaspace_ok() {
  pid_of taskmanager-1 >/dev/null || return 1
  local id used max
  id="$(rest_get /taskmanagers | jq -r '.taskmanagers[0].id // empty')"
  [[ -n "$id" ]] || return 1
  read -r used max < <(rest_get "/taskmanagers/$id/metrics?get=Status.JVM.Memory.Metaspace.Used,Status.JVM.Memory.Metaspace.Max" \
    | jq -r '(map({(.id): (.value | tonumber)}) | add) // {} | "\(.["Status.JVM.Memory.Metaspace.Used"] // 0) \(.["Status.JVM.Memory.Metaspace.Max"] // 0)"')
  [[ "$max" == 0 ]] && return 0
  awk -v u="$used" -v m="$max" 'BEGIN { exit !(u < 0.55 * m) }'
}
fresh_tm_if_needed() {
  if ! tm_metaspace_ok; then step "restarting TaskManager 1 (Metaspace filling up or process gone)"; restart_tm; fi
}
TM_RESTARTS=0
pid_of taskmanager-1 >/dev/null || die "no TaskManager 1 process (PID file $PIDS/taskmanager-1.pid)"
tms="$(rest_get /taskmanagers | jq '.taskmanagers | length')"
[[ "$tms" == 1 ]] || die "$tms TaskManagers are registered; the benchmark measures the CPU of one: stop the others (deploy/local/tm.sh stop N)"
slots="$(rest_get /taskmanagers | jq '.taskmanagers[0].slotsNumber')"

stopped_main=""; cancelled=()
for jid in $(rest_get /jobs/overview | jq -r '.jobs[] | select(.state | IN("FINISHED","FAILED","CANCELED") | not) | .jid'); do
  name="$(rest_get "/jobs/$jid" | jq -r .name)"
  if [[ "$name" == "$JOB_NAME" && "$(job_state "$jid")" == RUNNING ]]; then
    step "taking $name ($jid) off with a savepoint (deploy/local/up.sh resumes it)"
    if sp="$(stop_with_savepoint "$jid" 120)"; then
      echo "$sp" >"$DATA/$JOB_NAME.savepoint"; stopped_main="$sp"; continue
    fi
    log "savepoint failed; cancelling instead"
  fi
  step "cancelling $name ($jid)"
  rest -X PATCH "$FLINK_URL/jobs/$jid?mode=cancel" >/dev/null || true
  cancelled+=("$name")
done
wait_jobs_gone() {
  for _ in $(seq 120); do
    [[ "$(rest_get /jobs/overview | jq '[.jobs[] | select(.state | IN("FINISHED","FAILED","CANCELED") | not)] | length')" == 0 ]] && return 0
    sleep 0.5
  done
  die "jobs still running after 60 s: $(rest_get /jobs/overview | jq -c '[.jobs[] | {name, state}]')"
}
wait_jobs_gone
step "restarting TaskManager 1 (fresh JVM and Metaspace for the benchmark)"
restart_tm

# --- 2. topics, pre-filled input ------------------------------------------------------------------------------------
step "topics $TP-* (deleting earlier bench-* topics)"
tool BenchTopics --bootstrap "$KAFKA_BOOTSTRAP" --delete-prefix bench- \
  --create "$T_EVENTS:4,$T_OUT:4,$T_DL:1,$TP-latency-events:4,$TP-latency_low-events:4,$TP-overload-events:4,$T_LAT_OUT:4,$T_STATE:4,$TP-model-events:1" >"$RAW/topics.log" 2>&1 \
  || { cat "$RAW/topics.log" >&2; die "topic creation failed"; }
JAR_ID="$(upload_jar "$JOB_JAR")" || die "upload of $JOB_JAR failed"
BENCH_JAR_ID="$(upload_jar "$BENCH_JAR")" || die "upload of $BENCH_JAR failed"

wait_terminal() { # wait_terminal <jid> <timeout s>: prints the final state
  local jid="$1" deadline=$((SECONDS + $2)) st
  while ((SECONDS < deadline)); do
    st="$(job_state "$jid")"
    [[ "$st" == FINISHED || "$st" == FAILED || "$st" == CANCELED ]] && { echo "$st"; return 0; }
    sleep 1
  done
  echo TIMEOUT
}
cancel_job() {
  rest -X PATCH "$FLINK_URL/jobs/$1?mode=cancel" >/dev/null 2>&1 || true
  wait_terminal "$1" 60 >/dev/null
}
generate() { # generate <topic> <count> <users> <zipf> <run id>
  local jid st t0=$SECONDS
  fresh_tm_if_needed
  jid="$(run_jar "$JAR_ID" "$GENERATOR_CLASS" "$slots" "" --kafka.bootstrap-servers "$KAFKA_BOOTSTRAP" --topic.events "$1" \
    --rate "$GEN_RATE" --users "$3" --count "$2" --zipf "$4" --run-id "$5" --profiles false)" || die "generator refused"
  st="$(wait_terminal "$jid" 1800)"
  [[ "$st" == FINISHED ]] || die "generator $jid ended $st (see $FLINK_URL/#/job/completed/$jid/exceptions)"
  log "  $2 events for $3 users into $1 in $((SECONDS - t0)) s (parallelism $slots)"
}
step "pre-filling $T_EVENTS: N=$N events, U=$U users (EventGeneratorJob --count $N --rate $GEN_RATE)"
generate "$T_EVENTS" "$N" "$U" 0.8 "bench$STAMP"
TOOL_XMX=3g tool TopicStats --bootstrap "$KAFKA_BOOTSTRAP" --topic "$T_EVENTS" >"$RAW/input_topic.json" 2>"$RAW/input_topic.log"
N_REC="$(jq .records "$RAW/input_topic.json")"
log "  topic holds $N_REC records, $(jq .distinct_users "$RAW/input_topic.json") distinct users"

if [[ "$skip_state" == 0 ]]; then
  # Uniform users, 4 events per user on average over 3 % more users than asked: at least SU distinct users (counted).
  SU_POOL=$(( (SU * 103 + 99) / 100 )); SN=$((SU * 4))
  step "pre-filling $T_STATE for the state run: $SN events over $SU_POOL users, uniform"
  generate "$T_STATE" "$SN" "$SU_POOL" 0 "state$STAMP"
  TOOL_XMX=2g tool TopicStats --bootstrap "$KAFKA_BOOTSTRAP" --topic "$T_STATE" >"$RAW/state_topic.json" 2>"$RAW/state_topic.log"
  log "  topic holds $(jq .records "$RAW/state_topic.json") records, $(jq .distinct_users "$RAW/state_topic.json") distinct users"
fi

# --- 3. limit_model: DJL alone -------------------------------------------------------------------------------------
step "limit_model: ModelLimitBench, batch $BENCH_BATCH, ${MODEL_S} s in one thread"
ENGINE_CACHE_DIR="$CACHE/djl" DJL_CACHE_DIR="$CACHE/djl" OMP_NUM_THREADS=1 \
  "$JAVA" -Xmx1g "${DJL_JVM[@]}" -cp "$BENCH_JAR:$CACHE/cluster/lib/*" dev.flinkai.bench.ModelLimitBench \
  --model "$REPO_DIR/notebooks/model/next_event_mlp.pt" --batch "$BENCH_BATCH" --seconds "$MODEL_S" --also-batch 1 \
  >"$RAW/limit_model.json" 2>"$RAW/limit_model.log" || { tail "$RAW/limit_model.log" >&2; die "ModelLimitBench failed"; }
log "  $(jq -r '"\(.rows_per_cpu_s) rows per CPU-s at batch \(.batch_size); \(.batch_1.rows_per_cpu_s) at batch 1"' "$RAW/limit_model.json")"

# --- 4. throughput runs ---------------------------------------------------------------------------------------------
# The model server of the remote pipelines: one process of this run's own, on its own port, stopped at the end.
BENCH_SERVER_PORT="${BENCH_SERVER_PORT:-8002}"
BENCH_SERVER_URI="http://127.0.0.1:$BENCH_SERVER_PORT/v2/models/next-event-mlp"
SERVER_PID=""
start_bench_server() {
  [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null && return 0
  OMP_NUM_THREADS=1 setsid "$PYTHON" "$MODEL_SERVER" --model "$REPO_DIR/notebooks/model/next_event_mlp.pt" \
    --port "$BENCH_SERVER_PORT" >"$RAW/model-server.log" 2>&1 </dev/null &
  SERVER_PID=$!
  for _ in $(seq 120); do curl -sf --max-time 1 "http://127.0.0.1:$BENCH_SERVER_PORT/v2/health/ready" >/dev/null && return 0; sleep 0.5; done
  die "the bench's model server did not come up ($RAW/model-server.log)"
}
trap '[[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null' EXIT
remote_pipeline() { [[ "$1" == remote* || "$1" == naive_remote* ]]; }
job_args() { # job_args <events topic> <output topic> <group> <delivery> [remote]
  local backend=in-process
  [[ "${5:-}" == remote ]] && backend=remote
  MODEL_BACKEND="$backend" MODEL_SERVER_URI="$BENCH_SERVER_URI" \
    TOPIC_EVENTS="$1" TOPIC_PREDICTIONS="$2" TOPIC_DEAD_LETTERS="$T_DL" DELIVERY="$4" \
    TOPIC_PROFILES="" TOPIC_MODEL_UPDATES="" TOPIC_MODEL_EVENTS="$TP-model-events" main_job_args
  printf '%s\n' --kafka.group-id "$3" --inference.max-batch-size "$BENCH_BATCH"
  [[ -z "$BENCH_JOB_ARGS" ]] || printf '%s\n' $BENCH_JOB_ARGS
}
# prom_scrape <file>: one scrape of every TaskManager's Prometheus endpoint (the ports of PROM_PORTS serving
# flink_taskmanager_ metrics); prom_sum <file> <jid> <metric name regex> [label filter]: sum over the job's subtasks
prom_scrape() {
  local port body
  : >"$1"
  for port in $(seq "${PROM_PORTS%-*}" "${PROM_PORTS#*-}"); do
    body="$(curl -s --max-time 5 "http://127.0.0.1:$port/metrics" 2>/dev/null || true)"
    if [[ "$body" == *flink_taskmanager_* ]]; then printf '%s\n' "$body" >>"$1"; fi
  done
}
prom_sum() {
  awk -v j="job_id=\"$2\"" -v m="$3" -v f="${4:-}" \
    '$0 !~ /^#/ && index($0, j) && (f == "" || index($0, f)) && $1 ~ ("^" m "\\{") { s += $NF; n++ }
     END { if (n) printf "%.6g", s; else printf "null" }' "$1"
}

# kafka_log_bytes <topic>: bytes of the topic's log segments on the broker (all partitions)
kafka_log_bytes() { find "$DATA/kafka" -path "*/$1-[0-9]*/*.log" -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { printf "%d", s }'; }

# measure <name> <entry class> <parallelism> <events topic> <expected records> <delivery> [extra jq merge]: one run
measure() {
  local name="$1" cls="$2" par="$3" topic="$4" expected="$5" delivery="$6"
  local group="$TP-$name" jid st backend="" server=()
  if remote_pipeline "$name"; then backend=remote; start_bench_server; server=(--server-pid "$SERVER_PID"); fi
  mapfile -t args < <(job_args "$topic" "$T_OUT" "$group" "$delivery" "$backend")
  if [[ "$TM_PER_SUBTASK" == 1 ]]; then restart_tm "$par" 1
  elif [[ "$TM_EACH" == 1 || "$TM_COUNT" != 1 ]]; then restart_tm; else fresh_tm_if_needed; fi
  local out_log_bytes0; out_log_bytes0="$(kafka_log_bytes "$T_OUT")"
  tool ThroughputWatch --bootstrap "$KAFKA_BOOTSTRAP" --topic "$T_OUT" --expected "$expected" --tm-pid "$TM_PIDS" \
    "${server[@]}" --clk-tck "$CLK_TCK" --timeout-seconds 1800 >"$RAW/$name.watch" 2>"$RAW/$name.watch.log" &
  local watcher=$!
  for _ in $(seq 200); do grep -q READY "$RAW/$name.watch" 2>/dev/null && break; sleep 0.1; done
  grep -q READY "$RAW/$name.watch" || die "ThroughputWatch did not start ($RAW/$name.watch.log)"
  local jar_id="$JAR_ID"; [[ "$cls" == dev.flinkai.bench.* ]] && jar_id="$BENCH_JAR_ID"
  jid="$(run_jar "$jar_id" "$cls" "$par" "" "${args[@]}" 2>>"$RAW/submit.log")" || { kill "$watcher"; die "run of $cls refused ($RAW/submit.log)"; }
  echo "$jid" >"$RAW/$name.jobid"
  while kill -0 "$watcher" 2>/dev/null; do
    st="$(job_state "$jid")"
    if ! tms_alive; then
      kill "$watcher" 2>/dev/null || true
      die "$name: a TaskManager (pids $TM_PIDS) died during the run (see $LOGS/taskmanager-*.out / .log)"
    fi
    if [[ "$st" == FAILED || "$st" == CANCELED || "$st" == FINISHED ]]; then
      kill "$watcher" 2>/dev/null || true
      die "$name: job $jid is $st before all $expected records were out (see $FLINK_URL/#/job/completed/$jid/exceptions)"
    fi
    sleep 0.5
  done
  wait "$watcher" || die "$name: ThroughputWatch failed: $(tail -n 1 "$RAW/$name.watch")"
  local fallbacks timeouts predictions batch scrape="$RAW/$name.prom"
  prom_scrape "$scrape"
  fallbacks="$(prom_sum "$scrape" "$jid" flink_taskmanager_job_task_operator_inference_lane_fallbacks)"
  timeouts="$(prom_sum "$scrape" "$jid" flink_taskmanager_job_task_operator_inference_lane_timeouts)"
  predictions="$(prom_sum "$scrape" "$jid" flink_taskmanager_job_task_operator_inference_lane_predictions)"
  # median batch size of the last 10,000 model calls (per subtask; summed over subtasks then divided)
  batch="$(prom_sum "$scrape" "$jid" flink_taskmanager_job_task_operator_inference_lane_batchSize 'quantile="0.5"')"
  [[ "$batch" != null ]] && batch="$(awk -v b="$batch" -v p="$par" 'BEGIN { printf "%.4g", b / p }')"
  rest_get "/jobs/$jid/checkpoints" >"$RAW/$name.checkpoints.json"
  rest_get "/jobs/$jid" >"$RAW/$name.job.json"
  local cps; cps="$(jq -c '.counts | {completed, failed}' "$RAW/$name.checkpoints.json")"
  # network: Kafka log bytes per output record (batches as produced, so as sent), bytes per record on the job's
  # channels between tasks (the keyed shuffle; chained operators exchange no bytes)
  local net
  net="$(jq -n --argjson in_b "$(kafka_log_bytes "$T_EVENTS")" --argjson in_n "$N_REC" \
      --argjson out_b "$(( $(kafka_log_bytes "$T_OUT") - out_log_bytes0 ))" --argjson out_n "$expected" \
      --slurpfile job "$RAW/$name.job.json" \
      '{kafka_in_bytes_per_record: ($in_b / $in_n | . * 10 | round / 10),
        kafka_out_bytes_per_record: ($out_b / $out_n | . * 10 | round / 10),
        channel_bytes_per_event: ([$job[0].vertices[].metrics["write-bytes"]] | add / $out_n | . * 10 | round / 10),
        task_managers: '"$TM_COUNT"'}')"
  [[ "$name" == state* ]] || cancel_job "$jid"
  tail -n 1 "$RAW/$name.watch" | jq --arg n "$name" --arg c "$cls" --argjson p "$par" --arg j "$jid" --arg d "$delivery" \
    --argjson fb "$fallbacks" --argjson to "$timeouts" --argjson pr "$predictions" --argjson cp "$cps" --argjson bs "$batch" \
    --argjson net "$net" \
    '{name: $n, entry_class: $c, parallelism: $p, job_id: $j, delivery: $d} + .
     + {model_predictions: $pr, fallbacks: $fb, timeouts: $to, median_batch_size: $bs, checkpoints: $cp, network: $net}' >"$RAW/$name.json"
  log "  $(jq -r '"\(.name): \(.events) events in \(.wall_s) s: \(.events_per_s) events/s, TM CPU \(.tm_cpu_s) s\(if .server_cpu_s then " + model server \(.server_cpu_s) s" else "" end) = \(.events_per_cpu_s) events per CPU-s (\(.tm_cores_busy) cores busy), fallbacks \(.fallbacks)"' "$RAW/$name.json")"
}

declare -A CLASS=([limit_kafka]=dev.flinkai.bench.KafkaPassThroughJob [naive]=dev.flinkai.bench.NaiveInferenceJob
                  [ours]="$JOB_CLASS" [remote]="$JOB_CLASS" [naive_remote]=dev.flinkai.bench.NaiveRemoteInferenceJob)
for pipe in $PIPES; do
  [[ -n "${CLASS[$pipe]:-}" ]] || die "unknown pipeline $pipe (limit_kafka, naive, ours, remote, naive_remote)"
  for par in $PARS; do
    step "throughput: $pipe at parallelism $par ($BENCH_DELIVERY, $N_REC events from the earliest offset)"
    measure "${pipe}_p$par" "${CLASS[$pipe]}" "$par" "$T_EVENTS" "$N_REC" "$BENCH_DELIVERY"
  done
done
# the stack's own shape again: one TaskManager with its slots (the latency runs and the next up.sh expect it)
[[ "$TM_COUNT" == 1 && "$TM_PER_SUBTASK" == 0 ]] || { step "back to one TaskManager of $TM_SLOTS slots"; TM_PER_SUBTASK=0; restart_tm; }

# --- 5. latency: ours, at-least-once, half of its p1 maximum (+ one low fixed rate for context) ---------------------------
latency_run() { # latency_run <name> <rate> <measure s> [remote [probe args...]]
  local name="$1" rate="$2" secs="$3" backend="${4:-}" jid st
  shift 4 2>/dev/null || shift $#
  local events_topic="$TP-$name-events"   # its own empty input topic: the job starts from the earliest offset
  mapfile -t args < <(job_args "$events_topic" "$T_LAT_OUT" "$TP-$name" at-least-once "$backend")
  fresh_tm_if_needed
  jid="$(run_jar "$JAR_ID" "$JOB_CLASS" 1 "" "${args[@]}" 2>>"$RAW/submit.log")" || die "latency run refused ($RAW/submit.log)"
  echo "$jid" >"$RAW/$name.jobid"
  for _ in $(seq 120); do job_fully_running "$jid" && break; sleep 0.5; done
  job_fully_running "$jid" || die "latency job $jid not running"
  TOOL_XMX=1g tool LatencyProbe --bootstrap "$KAFKA_BOOTSTRAP" --events-topic "$events_topic" --predictions-topic "$T_LAT_OUT" \
    --rate "$rate" --users "$U" --warmup-seconds "$LAT_WARMUP" --seconds "$secs" --drain-seconds 10 "$@" \
    --timeline-file "$RAW/$name.timeline" >"$RAW/$name.out" 2>"$RAW/$name.log" || { tail "$RAW/$name.log" >&2; die "LatencyProbe failed"; }
  st="$(job_state "$jid")"
  rest_get "/jobs/$jid/checkpoints" >"$RAW/$name.checkpoints.json" || true  # to line the timeline up with checkpoints
  cancel_job "$jid"
  tail -n 1 "$RAW/$name.out" | jq --arg j "$jid" --arg st "$st" \
    '{job_id: $j, job_state_at_end: $st, delivery: "at-least-once", parallelism: 1} + .' >"$RAW/$name.json"
  log "  $(jq -r '"p50 \(.p50_ms) ms, p99 \(.p99_ms) ms, p99.9 \(.p999_ms) ms, max \(.max_ms) ms over \(.count) predictions (missing \(.missing), rate \(.rate_achieved)/s)"' "$RAW/$name.json")"
}
if [[ "$skip_latency" == 0 ]]; then
  if [[ -z "$LAT_RATE" ]]; then
    max_p1="$(jq -r '.events_per_s' "$RAW/ours_p1.json" 2>/dev/null)" || die "no ours_p1 result to take half of: run ours at parallelism 1 or give --latency-rate"
    LAT_RATE=$(( max_p1 / 2 )); why="half of $max_p1"
  else
    why="--latency-rate"
  fi
  step "latency: ours at-least-once, parallelism 1, $LAT_RATE events/s ($why), ${LAT_WARMUP} s warm-up + ${LAT_S} s"
  latency_run latency "$LAT_RATE" "$LAT_S" ""
  if [[ "$LAT_LOW_RATE" != 0 ]]; then
    step "latency for context: the same at a low fixed rate, $LAT_LOW_RATE events/s, ${LAT_WARMUP} s warm-up + ${LAT_LOW_S} s"
    latency_run latency_low "$LAT_LOW_RATE" "$LAT_LOW_S" ""
  fi
fi
if [[ "$overload" == 1 ]]; then
  # The server computes one request at a time, each for D ms more than the model takes, and serves waiting requests
  # by priority level (the priority lane asks for level 1): with D = 5 ms it answers fewer than 200 calls/s, about half
  # of what the lanes' micro-batches ask at 2000 events/s (~6 events per normal batch, ~1 per priority batch).
  start_bench_server
  curl -sf -X POST "http://127.0.0.1:$BENCH_SERVER_PORT/admin/delay?ms=$OVERLOAD_DELAY_MS" >/dev/null || die "cannot slow the model server"
  curl -sf -X POST "http://127.0.0.1:$BENCH_SERVER_PORT/admin/slots?n=1" >/dev/null || die "cannot limit the model server"
  step "overload: ours through the model server computing one request at a time for $OVERLOAD_DELAY_MS ms + the model, $OVERLOAD_RATE events/s, $OVERLOAD_PRIORITY_SHARE priority, at-least-once"
  latency_run overload "$OVERLOAD_RATE" "$LAT_S" remote --priority-share "$OVERLOAD_PRIORITY_SHARE"
  curl -sf -X POST "http://127.0.0.1:$BENCH_SERVER_PORT/admin/delay?ms=0" >/dev/null || true
  curl -sf -X POST "http://127.0.0.1:$BENCH_SERVER_PORT/admin/slots?n=0" >/dev/null || true
  log "  $(jq -r '"priority: p50 \(.priority.p50_ms) ms, p99 \(.priority.p99_ms) ms, \(.priority.fallbacks) of \(.priority.count) not served by the server; normal: p50 \(.normal.p50_ms) ms, p99 \(.normal.p99_ms) ms, \(.normal.fallbacks) of \(.normal.count) not served by the server"' "$RAW/overload.json")"
fi

# --- 6. state: ours (plus RocksDB size metrics) over SU distinct users ----------------------------------------------------
if [[ "$skip_state" == 0 ]]; then
  SN_REC="$(jq .records "$RAW/state_topic.json")"
  step "state: StateSizeJob (= ContextInferenceJob + RocksDB native size metrics), parallelism 1, $SN_REC events"
  measure state_p1 dev.flinkai.bench.StateSizeJob 1 "$T_STATE" "$SN_REC" "$BENCH_DELIVERY"
  jid="$(cat "$RAW/state_p1.jobid")"
  done_ms="$(date +%s%3N)"
  # the next periodic checkpoint after the last event flushes the memtables into SST files
  log "  waiting for a checkpoint triggered after the last event (flushes the memtables)"
  cp_id=""
  for _ in $(seq 90); do
    cp_id="$(rest_get "/jobs/$jid/checkpoints" | jq -r --argjson t "$done_ms" \
      '[.history[] | select(.status == "COMPLETED" and .trigger_timestamp > $t)] | sort_by(.id) | .[0].id // empty')"
    [[ -n "$cp_id" ]] && break
    sleep 1
  done
  [[ -n "$cp_id" ]] || die "no checkpoint completed within 90 s after the state run"
  sleep 2
  metric='flink_taskmanager_job_task_operator_user_context_rocksdb'
  prom_scrape "$RAW/state.prom"
  live="$(prom_sum "$RAW/state.prom" "$jid" "${metric}_live_sst_files_size")"
  total="$(prom_sum "$RAW/state.prom" "$jid" "${metric}_total_sst_files_size")"
  keys="$(prom_sum "$RAW/state.prom" "$jid" "${metric}_estimate_num_keys")"
  mem="$(prom_sum "$RAW/state.prom" "$jid" "${metric}_cur_size_all_mem_tables")"
  if [[ "$live" == null ]]; then
    log "  RocksDB metric not found under $metric*; names present:"
    { grep -o '^flink_[a-zA-Z_]*rocksdb[a-zA-Z_]*' "$RAW/state.prom" | sort -u | head -n 20 | tee "$RAW/rocksdb-metric-names.txt" >&2; } || true
  fi
  cp_json="$(rest_get "/jobs/$jid/checkpoints/details/$cp_id")"
  uc_vid="$(rest_get "/jobs/$jid" | jq -r '.vertices[] | select(.name | startswith("Per-user context")) | .id')"
  uc_state="$(jq --arg v "$uc_vid" '.tasks[$v].state_size // .tasks[$v].checkpointed_size // null' <<<"$cp_json")"
  cancel_job "$jid"
  jq --argjson live "$live" --argjson total "$total" --argjson keys "$keys" --argjson mem "$mem" --argjson cp "$cp_id" \
    --argjson ucs "${uc_state:-null}" --slurpfile topic "$RAW/state_topic.json" --slurpfile cpd <(printf '%s' "$cp_json") \
    '. + {checkpoint_id: $cp, live_sst_bytes: $live, total_sst_bytes: $total, estimate_num_keys: $keys,
          memtable_bytes_after_checkpoint: $mem, checkpoint_state_bytes_user_context: $ucs,
          checkpoint_full_bytes: $cpd[0].state_size, checkpoint_incremental_bytes: $cpd[0].checkpointed_size,
          checkpoint_duration_ms: $cpd[0].end_to_end_duration,
          distinct_users: $topic[0].distinct_users, events_per_user: ($topic[0].records / $topic[0].distinct_users),
          bytes_per_user: (if $live == null then null else $live / $topic[0].distinct_users end)}' \
    "$RAW/state_p1.json" >"$RAW/state.json"
  log "  $(jq -r '"live SST \(.live_sst_bytes) bytes / \(.distinct_users) users = \(.bytes_per_user) bytes per user (checkpoint: \(.checkpoint_state_bytes_user_context) bytes)"' "$RAW/state.json")"
fi

# --- 7. results -------------------------------------------------------------------------------------------------------
step "writing target/bench/results.json, results.md, results.png"
cat >"$RAW/settings.json" <<EOF
{"mode": "$mode", "events": $N_REC, "events_requested": $N, "users": $U, "state_users_requested": $SU,
 "batch_size": $BENCH_BATCH, "job_args": "$BENCH_JOB_ARGS", "delivery": "$BENCH_DELIVERY", "latency_delivery": "at-least-once",
 "parallelisms": [$(echo $PARS | tr ' ' ',')], "pipelines": "$PIPES", "checkpoint_interval": "$CHECKPOINT_INTERVAL",
 "latency_warmup_s": $LAT_WARMUP, "latency_low_rate": $LAT_LOW_RATE, "latency_measure_s": $LAT_S, "model_seconds": $MODEL_S,
 "taskmanager_slots": $slots, "taskmanager_restarts": $TM_RESTARTS, "taskmanager_restart_before_each_run": $( [[ $TM_EACH == 1 ]] && echo true || echo false ), "taskmanager_process_size": "$TM_PROCESS_SIZE", "clk_tck": $CLK_TCK,
 "topics_prefix": "$TP", "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "git_commit": "$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)",
 "git_dirty": $( [[ -n "$(git -C "$REPO_DIR" status --porcelain 2>/dev/null)" ]] && echo true || echo false ),
 "java_version": "$("$JAVA" -version 2>&1 | head -n 1 | sed 's/"/\\"/g')"}
EOF
/usr/bin/python3 "$BENCH_DIR/report.py" "$RAW" "$OUT" || die "report.py failed"
cat "$OUT/results.md"
echo
log "done in $(elapsed). Results: $OUT/results.json, results.md, results.png"
[[ -n "$stopped_main" ]] && log "the main job was stopped with savepoint $stopped_main: deploy/local/up.sh resumes it (with the generator)"
((${#cancelled[@]})) && log "cancelled before the benchmark: ${cancelled[*]} (deploy/local/up.sh submits the missing jobs again)"
log "the stack is still running: deploy/local/down.sh stops it (--wipe also deletes topics, checkpoints, savepoints)"
