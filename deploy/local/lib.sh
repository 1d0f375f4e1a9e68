# Shared by up.sh, down.sh, e2e.sh and tm.sh: paths, settings, process and REST helpers. Source it, do not run it.
# shellcheck shell=bash

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$LOCAL_DIR/../.." && pwd)"
# shellcheck source=stack.env
source "$LOCAL_DIR/stack.env"

CACHE="$LOCAL_DIR/.cache"
RUN="$LOCAL_DIR/run"
LOGS="$RUN/logs"
DATA="$RUN/data"
CONF="$RUN/conf"
PIDS="$RUN/pids"
mkdir -p "$LOGS"  # every script logs here, from its first step on a fresh clone
JOB_JAR="${JOB_JAR:-$REPO_DIR/jobs/target/flink-ai-jobs.jar}"
JAVA="${JAVA:-java}"
TOOLS="$LOCAL_DIR/tools"

MODEL_SERVER="$REPO_DIR/deploy/model-server/server.py"
PYTHON="${PYTHON:-/usr/bin/python3}"

# Flink 2.x on Java 17 needs the module flags flink-dist's scripts pass.
FLINK_MODULE_OPTS=(
  --add-exports=java.base/sun.net.util=ALL-UNNAMED
  --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED
  --add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED
  --add-opens=java.base/java.lang=ALL-UNNAMED
  --add-opens=java.base/java.net=ALL-UNNAMED
  --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens=java.base/java.text=ALL-UNNAMED
  --add-opens=java.base/java.time=ALL-UNNAMED
  --add-opens=java.base/java.util=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED
)
# DJL: never download an engine, one PyTorch thread per predictor (parallelism comes from Java threads).
TM_DJL_OPTS=(-Dai.djl.offline=true -Dai.djl.pytorch.num_threads=1 -Dai.djl.pytorch.num_interop_threads=1)

log() { printf '%s [%s] %s\n' "$(date +%H:%M:%S)" "${PART:-stack}" "$*"; }
die() { printf '%s [%s] ERROR: %s\n' "$(date +%H:%M:%S)" "${PART:-stack}" "$*" >&2; exit 1; }

# fail <part> <log file> <message>: the one way a part reports that it did not come up.
fail() {
  local part="$1" logfile="$2"; shift 2
  {
    echo
    echo "FAILED: part '$part' did not come up: $*"
    echo "        log: $logfile"
    if [[ -f "$logfile" ]]; then echo "        last lines:"; tail -n 15 "$logfile" | sed 's/^/          | /'; fi
  } >&2
  exit 1
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
port_owner() { ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(([^)]*))' | head -n 1; }

# pid_of <name>: prints the PID recorded for a part if that process is alive and is still ours (its command line
# carries -Dflinkai.local.part=<name>), else nothing.
pid_of() {
  local f="$PIDS/$1.pid" pid
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f" 2>/dev/null)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-Dflinkai.local.part=$1 " || return 1
  echo "$pid"
}

# launch <name> <log file> <command...>: starts the command in its own session, records its PID.
launch() {
  local name="$1" logfile="$2"; shift 2
  mkdir -p "$PIDS" "$(dirname "$logfile")"
  rm -f "$PIDS/$name.pid"
  echo "=== $(date '+%F %T') starting $name ===" >>"$logfile"
  setsid -f bash -c 'echo $$ > "$0"; exec "$@"' "$PIDS/$name.pid" "$@" >>"$logfile" 2>&1 </dev/null
  for _ in $(seq 50); do [[ -s "$PIDS/$name.pid" ]] && return 0; sleep 0.1; done
  fail "$name" "$logfile" "no PID file written"
}

# wait_until <name> <log file> <timeout s> <command...>: polls the command until it succeeds; fails when the part's
# process dies or the time is up.
wait_until() {
  local name="$1" logfile="$2" timeout="$3"; shift 3
  local deadline=$((SECONDS + timeout))
  while ! "$@" >/dev/null 2>&1; do
    if [[ -f "$PIDS/$name.pid" ]] && ! pid_of "$name" >/dev/null; then
      fail "$name" "$logfile" "its process exited"
    fi
    ((SECONDS < deadline)) || fail "$name" "$logfile" "not ready after ${timeout}s"
    sleep 0.5
  done
}

# stop_part <name> [signal]: stops one recorded process and waits for it to go (SIGKILL after 30 s).
stop_part() {
  local name="$1" sig="${2:-TERM}" pid
  if pid="$(pid_of "$name")"; then
    log "stopping $name (pid $pid, SIG$sig)"
    kill -s "$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then log "$name did not stop in 30 s: SIGKILL"; kill -9 "$pid" 2>/dev/null || true; sleep 0.5; fi
  fi
  rm -f "$PIDS/$name.pid" "$PIDS/$name.rid"
}

kafka_tool() { # kafka_tool <main class> <args...>
  "$JAVA" -Xmx"$TOOL_HEAP" -Dlog4j2.configurationFile="$LOCAL_DIR/conf/kafka-log4j2.properties" -Dkafka.logs.dir="$LOGS" \
    -cp "$CACHE/broker/lib/*" "$@"
}
topics() { kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BOOTSTRAP" "$@"; }

# compile_tool <out dir> <classpath> <source...>: javac the sources together once, again only when one of them or the
# job jar changed (the Kafka tools are their own source plus the shared tools/KafkaTools.java)
compile_tool() {
  local out="$1" cp="$2" src stale=""; shift 2
  [[ -f "$out/.stamp" ]] || stale=1
  for src in "$@" "$JOB_JAR"; do
    [[ -f "$src" && "$src" -nt "$out/.stamp" ]] && stale=1
  done
  if [[ -n "$stale" ]]; then
    rm -rf "$out"; mkdir -p "$out"
    javac -J-Xmx"$TOOL_HEAP" -nowarn -d "$out" -cp "$cp" "$@" >&2 || return 1
    touch "$out/.stamp"
  fi
}

s3_tool() { # s3_tool <command> <args...>  (see tools/S3.java)
  compile_tool "$CACHE/tools/classes-s3" "$CACHE/tools/lib/*" "$TOOLS/S3.java" || return 1
  S3_ENDPOINT="$S3_ENDPOINT" S3_ACCESS_KEY="$S3_ACCESS_KEY" S3_SECRET_KEY="$S3_SECRET_KEY" \
    "$JAVA" -Xmx"$TOOL_HEAP" -cp "$CACHE/tools/classes-s3:$CACHE/tools/lib/*" S3 "$@"
}

# predictions_tool <command> <args...>  (see tools/Predictions.java); the job jar holds Prediction, avro, kafka-clients
PREDICTIONS_CP() { echo "$JOB_JAR:$CACHE/tools/lib/slf4j-api-1.7.36.jar:$CACHE/tools/lib/slf4j-nop-1.7.36.jar"; }
predictions_tool() {
  compile_tool "$CACHE/tools/classes-predictions" "$(PREDICTIONS_CP)" "$TOOLS/Predictions.java" "$TOOLS/KafkaTools.java" || return 1
  "$JAVA" -Xmx"$TOOL_HEAP" -cp "$CACHE/tools/classes-predictions:$(PREDICTIONS_CP)" Predictions \
    "$KAFKA_BOOTSTRAP" "$TOPIC_PREDICTIONS" "$@"
}

# alerts_tool <command> <args...>  (see tools/Alerts.java): the ops job's alerts
alerts_tool() {
  compile_tool "$CACHE/tools/classes-alerts" "$(PREDICTIONS_CP)" "$TOOLS/Alerts.java" "$TOOLS/KafkaTools.java" || return 1
  "$JAVA" -Xmx"$TOOL_HEAP" -cp "$CACHE/tools/classes-alerts:$(PREDICTIONS_CP)" Alerts "$KAFKA_BOOTSTRAP" "$TOPIC_ALERTS" "$@"
}

# audit_tool <command> <args...>  (see tools/Audit.java): chaos.sh's read_committed audit of events and their outcomes
audit_tool() {
  compile_tool "$CACHE/tools/classes-audit" "$(PREDICTIONS_CP)" "$TOOLS/Audit.java" "$TOOLS/KafkaTools.java" || return 1
  "$JAVA" -Xmx"${AUDIT_HEAP:-1g}" -cp "$CACHE/tools/classes-audit:$(PREDICTIONS_CP)" Audit "$KAFKA_BOOTSTRAP" \
    "$TOPIC_EVENTS" "$TOPIC_PREDICTIONS" "$TOPIC_DEAD_LETTERS" "$@"
}

# models_tool <command> <args...>  (see tools/Models.java): model updates and model events; the job jar holds the records
models_tool() {
  compile_tool "$CACHE/tools/classes-models" "$(PREDICTIONS_CP)" "$TOOLS/Models.java" "$TOOLS/KafkaTools.java" || return 1
  "$JAVA" -Xmx"$TOOL_HEAP" -cp "$CACHE/tools/classes-models:$(PREDICTIONS_CP)" Models "$KAFKA_BOOTSTRAP" "$@"
}

# REST helpers
rest() { curl -sS --max-time 30 "$@"; }
rest_get() { rest "$FLINK_URL$1"; }
# job_id_by_name <name>: the id of the newest job of that name that is not finished/failed/cancelled.
job_id_by_name() {
  rest_get /jobs/overview 2>/dev/null | jq -r --arg n "$1" \
    '[.jobs[] | select(.name == $n and (.state | IN("FINISHED","FAILED","CANCELED") | not))] | sort_by(-."start-time") | .[0].jid // empty'
}
job_state() { rest_get "/jobs/$1" | jq -r '.state // empty'; }

# How many of a job's failed checkpoints Flink counted when it skipped a trigger because a task had not started yet
# (checkpoints that started and failed are the rest of .counts.failed).
not_yet_running_triggers() {
  local n
  n="$(grep -F "Failed to trigger checkpoint for job $1 since" "$LOGS/jobmanager.log" 2>/dev/null \
    | grep -cF "Not all required tasks are currently running" || true)"
  echo "${n:-0}"
}
# all tasks of the job RUNNING (state RUNNING alone is reported while tasks still deploy)
job_fully_running() {
  rest_get "/jobs/$1" | jq -e '.state == "RUNNING" and ([.vertices[].status] | all(. == "RUNNING"))' >/dev/null
}

# upload_jar [jar]: uploads a jar (default: the job jar) once per build of it; prints the jar id.
upload_jar() {
  local jar="${1:-$JOB_JAR}" idf id
  idf="$RUN/jar-$(basename "$jar" .jar).id"
  if [[ -f "$idf" && "$idf" -nt "$jar" ]]; then
    id="$(cat "$idf")"
    if rest_get /jars | jq -e --arg id "$id" '.files[] | select(.id == $id)' >/dev/null 2>&1; then echo "$id"; return 0; fi
  fi
  # drop earlier uploads of the jar (50 MB each in run/data/flink-web-upload)
  for old in $(rest_get /jars | jq -r --arg n "$(basename "$jar")" '.files[] | select(.name == $n) | .id'); do
    rest -X DELETE "$FLINK_URL/jars/$old" >/dev/null || true
  done
  id="$(rest -X POST -H 'Expect:' -F "jarfile=@$jar" "$FLINK_URL/jars/upload" | jq -r '.filename // empty' | xargs -r basename)"
  [[ -n "$id" ]] || return 1
  echo "$id" >"$idf"
  echo "$id"
}

# run_jar <jar id> <entry class> <parallelism> <savepoint or ""> <args...>: prints the job id
run_jar() {
  local jar="$1" cls="$2" par="$3" sp="$4"; shift 4
  local body args
  args="$(printf '%s\n' "$@" | jq -R . | jq -s -c .)"
  body="$(jq -n -c --arg c "$cls" --argjson p "$par" --arg sp "$sp" --argjson a "$args" \
      '{entryClass: $c, parallelism: $p, programArgsList: $a}
      + (if $sp == "" then {} else {savepointPath: $sp, allowNonRestoredState: false} end)')"
  local out
  # up to 3 min: main() runs on the JobManager, and a SQL job (the KPI job) plans its statements there first
  out="$(rest --max-time 180 -X POST -H 'Content-Type: application/json' -d "$body" "$FLINK_URL/jars/$jar/run")"
  local jid
  jid="$(jq -r '.jobid // empty' <<<"$out" 2>/dev/null)"
  if [[ -z "$jid" ]]; then
    echo "run of $cls refused: $(grep -o 'Caused by: [^\\]*' <<<"$out" | tail -n 1)" >&2
    echo "$out" >&2
    return 1
  fi
  echo "$jid"
}

main_job_args() {
  local model=(--model.uri "$MODEL_URI")
  [[ "$MODEL_BACKEND" == remote ]] && model=(--model.uri "$MODEL_SERVER_URI" --model.fallback-uri "$MODEL_URI")
  printf '%s\n' --kafka.bootstrap-servers "$KAFKA_BOOTSTRAP" --topic.events "$TOPIC_EVENTS" \
    --topic.predictions "$TOPIC_PREDICTIONS" --topic.dead-letters "$TOPIC_DEAD_LETTERS" \
    --topic.profiles "$TOPIC_PROFILES" --topic.model-updates "$TOPIC_MODEL_UPDATES" \
    --topic.model-events "$TOPIC_MODEL_EVENTS" --delivery "$DELIVERY" --checkpoint.interval "$CHECKPOINT_INTERVAL" "${model[@]}" --s3.endpoint "$S3_ENDPOINT" \
    --s3.access-key "$S3_ACCESS_KEY" --s3.secret-key "$S3_SECRET_KEY"
  # shellcheck disable=SC2086 # JOB_ARGS is a list of words: --key value ...
  [[ -z "${JOB_ARGS:-}" ]] || printf '%s\n' $JOB_ARGS
}
generator_args() {
  printf '%s\n' --kafka.bootstrap-servers "$KAFKA_BOOTSTRAP" --topic.events "$TOPIC_EVENTS" \
    --topic.profiles "$TOPIC_PROFILES" --rate "$EVENT_RATE" --users "$EVENT_USERS"
  [[ -z "$GENERATOR_ARGS" ]] || printf '%s\n' $GENERATOR_ARGS
}

kpi_job_args() {
  printf '%s\n' --kafka.bootstrap-servers "$KAFKA_BOOTSTRAP" --topic.events "$TOPIC_EVENTS" --topic.kpis "$TOPIC_KPIS" \
    --window.size "$KPI_WINDOW"
  [[ -z "$KPI_ARGS" ]] || printf '%s\n' $KPI_ARGS
}

ops_job_args() {
  printf '%s\n' --kafka.bootstrap-servers "$KAFKA_BOOTSTRAP" --topic.events "$TOPIC_EVENTS" \
    --topic.predictions "$TOPIC_PREDICTIONS" --topic.dead-letters "$TOPIC_DEAD_LETTERS" --topic.alerts "$TOPIC_ALERTS" \
    --delivery "$DELIVERY" --checkpoint.interval "$CHECKPOINT_INTERVAL" --detectors.limits "$OPS_LIMITS"
  [[ -z "$OPS_ARGS" ]] || printf '%s\n' $OPS_ARGS
}

# The stack.env variable behind each job argument, so that a refused value is reported as what the user set.
declare -A ARG_VARIABLE=([kafka.bootstrap-servers]=KAFKA_PORT [topic.events]=TOPIC_EVENTS
  [topic.predictions]=TOPIC_PREDICTIONS [topic.dead-letters]=TOPIC_DEAD_LETTERS [topic.profiles]=TOPIC_PROFILES
  [topic.model-updates]=TOPIC_MODEL_UPDATES [topic.model-events]=TOPIC_MODEL_EVENTS [delivery]=DELIVERY
  [checkpoint.interval]=CHECKPOINT_INTERVAL [model.uri]=MODEL_PREFIX [model.fallback-uri]=MODEL_PREFIX [s3.endpoint]=S3_PORT
  [s3.access-key]=S3_ACCESS_KEY [s3.secret-key]=S3_SECRET_KEY [rate]=EVENT_RATE [users]=EVENT_USERS
  [topic.kpis]=TOPIC_KPIS [window.size]=KPI_WINDOW [topic.alerts]=TOPIC_ALERTS [detectors.limits]=OPS_LIMITS)

# check_settings <job class> <args...>: the job's own check of its arguments (dev.flinkai.jobs.CheckSettings), run
# here before anything starts. On a refusal prints what to change, named as the variable that was set, and fails.
check_settings() {
  local job="$1" out key var; shift
  out="$("$JAVA" -Xmx128m -Dlog4j2.level=ERROR -cp "$JOB_JAR:$CACHE/cluster/lib/*" dev.flinkai.jobs.CheckSettings \
    "${job##*.}" "$@" 2>&1)" && return 0
  key="$(grep -o -- '--[a-z0-9.-]*' <<<"$out" | head -n 1)"
  var="${ARG_VARIABLE[${key#--}]:-}"
  if [[ -n "$var" ]]; then
    echo "$var=${!var} (deploy/local/stack.env or the environment) is refused by ${job##*.}: $out"
  else
    echo "JOB_ARGS='${JOB_ARGS:-}' is refused by ${job##*.}: $out"
  fi
  return 1
}

# stop_with_savepoint <job id> [timeout s]: prints the savepoint path
stop_with_savepoint() {
  local jid="$1" timeout="${2:-120}" trig st out
  trig="$(rest -X POST -H 'Content-Type: application/json' -d "{\"drain\":false,\"targetDirectory\":\"$SAVEPOINT_DIR\"}" \
    "$FLINK_URL/jobs/$jid/stop" | jq -r '."request-id" // empty')"
  [[ -n "$trig" ]] || return 1
  local deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    out="$(rest_get "/jobs/$jid/savepoints/$trig")"
    st="$(jq -r '.status.id // empty' <<<"$out")"
    if [[ "$st" == COMPLETED ]]; then
      local loc; loc="$(jq -r '.operation.location // empty' <<<"$out")"
      [[ -n "$loc" ]] || { echo "savepoint failed: $(jq -c '.operation."failure-cause".class // .operation' <<<"$out")" >&2; return 1; }
      echo "$loc"; return 0
    fi
    sleep 1
  done
  echo "savepoint of $jid not completed within ${timeout}s" >&2
  return 1
}
