#!/usr/bin/env bash
# One command: the main job on a real local stack (Kafka KRaft broker, S3 store, ZooKeeper, Flink session cluster with
# JobManager HA, the jobs).
#   deploy/local/up.sh            fetch what is missing, start what is not running, submit what is not submitted
#   SUBMIT_JOBS=0 deploy/local/up.sh   only the stack (broker, S3, cluster, topics, buckets, model), no jobs
# Idempotent: running parts are detected by PID file + port, running jobs by name. Settings: deploy/local/stack.env.
# Logs: deploy/local/run/logs, data: deploy/local/run/data, PID files: deploy/local/run/pids. Stop: deploy/local/down.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
T0=$SECONDS
mkdir -p "$LOGS" "$DATA" "$CONF" "$PIDS"

# --- 0. tools: a fresh Debian machine may lack some; install them when we can, else say which -------------------
case "$MODEL_BACKEND" in
  in-process|remote) ;;
  *) PART=settings die "MODEL_BACKEND=$MODEL_BACKEND (deploy/local/stack.env or the environment) must be in-process or remote" ;;
esac
missing=()
for tool in java mvn curl jq; do command -v "$tool" >/dev/null || missing+=("$tool"); done
# The model server (MODEL_BACKEND=remote, and the tests of `mvn -B verify`) runs on Debian's Python packages.
PY_PACKAGES=(python3-torch python3-fastapi python3-uvicorn python3-httptools python3-uvloop)
py_missing=()
for p in "${PY_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || py_missing+=("$p"); done
if ((${#py_missing[@]})); then
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
    PART=tools log "installing ${py_missing[*]} with apt-get (for the model server)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${py_missing[@]}"; } \
      >"$LOGS/apt-model-server.log" 2>&1 || fail tools "$LOGS/apt-model-server.log" "apt-get install failed"
  elif [[ "$MODEL_BACKEND" == remote ]]; then
    echo "MODEL_BACKEND=remote needs the Debian packages ${py_missing[*]}" >&2
    exit 1
  fi
fi
# The stack's Prometheus is Debian's package (deploy/prometheus/run-local.sh); without recommends: no node exporter.
if [[ ! -x /usr/bin/prometheus ]]; then
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
    PART=tools log "installing prometheus with apt-get"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; } \
      >"$LOGS/apt-prometheus.log" 2>&1 || fail tools "$LOGS/apt-prometheus.log" "apt-get install prometheus failed"
  else
    PART=tools die "Prometheus is missing: apt-get install prometheus (Debian's package)"
  fi
fi

# --- 1. fetch: jars through Maven into .cache (once) -------------------------------------------------------------
fetch() {
  local name="$1" pom="$2" dest="$3"
  [[ -f "$dest/.complete" && "$dest/.complete" -nt "$LOCAL_DIR/$pom" ]] && return 0
  PART=fetch log "copying $name jars into ${dest#"$REPO_DIR"/}"
  rm -rf "$dest"
  mvn -q -B -f "$LOCAL_DIR/$pom" dependency:copy-dependencies -Dmdep.includeScope=runtime -DoutputDirectory="$dest" \
    >"$LOGS/fetch-$name.log" 2>&1 || fail "fetch-$name" "$LOGS/fetch-$name.log" "mvn dependency:copy-dependencies failed"
  touch "$dest/.complete"
}
fetch_one() { # fetch_one <name> <groupId:artifactId:version[:packaging[:classifier]]> <dest dir>
  local name="$1" artifact="$2" dest="$3"
  [[ -f "$dest/.complete" ]] && return 0
  PART=fetch log "copying $artifact into ${dest#"$REPO_DIR"/}"
  rm -rf "$dest"
  mvn -q -B -f "$LOCAL_DIR/tools-pom.xml" dependency:copy -Dartifact="$artifact" -DoutputDirectory="$dest" \
    >"$LOGS/fetch-$name.log" 2>&1 || fail "fetch-$name" "$LOGS/fetch-$name.log" "mvn dependency:copy $artifact failed"
  touch "$dest/.complete"
}
# --- 2. Kafka broker (KRaft, single node) ------------------------------------------------------------------------
start_kafka() {
  local PART=kafka logf="$LOGS/kafka.out"
  if pid_of kafka >/dev/null; then log "running (pid $(pid_of kafka))"; return 0; fi
  port_open "$KAFKA_HOST" "$KAFKA_PORT" && fail kafka "$logf" "port $KAFKA_PORT is taken by a process this stack did not start: $(port_owner $KAFKA_PORT)"
  mkdir -p "$CONF/kafka" "$DATA/kafka"
  cat >"$CONF/kafka/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${KAFKA_HOST}:${KAFKA_CONTROLLER_PORT}
listeners=PLAINTEXT://${KAFKA_HOST}:${KAFKA_PORT},CONTROLLER://${KAFKA_HOST}:${KAFKA_CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://${KAFKA_HOST}:${KAFKA_PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA/kafka
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=104857600
EOF
  if [[ ! -f "$DATA/kafka/meta.properties" ]]; then
    log "formatting storage"
    kafka_tool kafka.tools.StorageTool format -t "$(kafka_tool kafka.tools.StorageTool random-uuid)" \
      -c "$CONF/kafka/server.properties" >>"$logf" 2>&1 || fail kafka "$logf" "storage format failed"
  fi
  log "starting on $KAFKA_BOOTSTRAP"
  launch kafka "$logf" "$JAVA" -Xmx"$KAFKA_HEAP" -Xms"$KAFKA_HEAP" -Dflinkai.local.part=kafka \
    -Dlog4j2.configurationFile="$LOCAL_DIR/conf/kafka-log4j2.properties" -Dkafka.logs.dir="$LOGS" \
    -cp "$CACHE/broker/lib/*" kafka.Kafka "$CONF/kafka/server.properties"
}

# --- 3. S3 store: MinIO if installed, else S3Proxy (filesystem backend) -----------------------------------------
start_s3() {
  local PART=s3 logf="$LOGS/s3.log"
  if pid_of s3 >/dev/null; then log "running (pid $(pid_of s3))"; return 0; fi
  port_open "$S3_HOST" "$S3_PORT" && fail s3 "$logf" "port $S3_PORT is taken by a process this stack did not start: $(port_owner $S3_PORT)"
  mkdir -p "$DATA/s3" "$CONF/s3"
  if command -v minio >/dev/null; then
    log "starting MinIO on $S3_ENDPOINT"
    # the marker property is passed as an (ignored) trailing word so pid_of can recognise the process
    MINIO_ROOT_USER="$S3_ACCESS_KEY" MINIO_ROOT_PASSWORD="$S3_SECRET_KEY" \
      launch s3 "$logf" minio server "$DATA/s3" --address "$S3_HOST:$S3_PORT" --console-address "$S3_HOST:$((S3_PORT + 1))" \
      --quiet "-Dflinkai.local.part=s3 "
  else
    cat >"$CONF/s3/s3proxy.conf" <<EOF
s3proxy.endpoint=${S3_ENDPOINT}
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=${S3_ACCESS_KEY}
s3proxy.credential=${S3_SECRET_KEY}
jclouds.provider=filesystem
jclouds.filesystem.basedir=${DATA}/s3
EOF
    log "starting S3Proxy on $S3_ENDPOINT"
    launch s3 "$logf" "$JAVA" -Xmx"$S3_HEAP" -Dflinkai.local.part=s3 -jar "$CACHE/s3proxy/s3proxy-4.1.0-jar-with-dependencies.jar" \
      --properties "$CONF/s3/s3proxy.conf"
  fi
}

# --- 3b. model server (MODEL_BACKEND=remote): the committed model behind the Open Inference Protocol ------------
start_model_server() {
  local PART=model-server logf="$LOGS/model-server.log"
  if pid_of model-server >/dev/null; then log "running (pid $(pid_of model-server))"; return 0; fi
  port_open "$MODEL_SERVER_HOST" "$MODEL_SERVER_PORT" && fail model-server "$logf" "port $MODEL_SERVER_PORT is taken by a process this stack did not start: $(port_owner $MODEL_SERVER_PORT)"
  log "starting on $MODEL_SERVER_URI"
  # the marker is an argument the server ignores, so pid_of can recognise the process
  # versions published by model.sh go into the repository, where the server finds them while it runs
  mkdir -p "$MODEL_REPOSITORY"
  OMP_NUM_THREADS=1 launch model-server "$logf" "$PYTHON" "$MODEL_SERVER" --model "$REPO_DIR/notebooks/model/next_event_mlp.pt" \
    --repository "$MODEL_REPOSITORY" --host "$MODEL_SERVER_HOST" --port "$MODEL_SERVER_PORT" "--label=-Dflinkai.local.part=model-server"
}
model_server_ready() { curl -sf --max-time 2 "http://$MODEL_SERVER_HOST:$MODEL_SERVER_PORT/v2/health/ready" >/dev/null; }

# --- 3c. ZooKeeper: the JobManager's leader election and HA pointers ---------------------------------------------
start_zookeeper() {
  local PART=zookeeper logf="$LOGS/zookeeper.log"
  if pid_of zookeeper >/dev/null; then log "running (pid $(pid_of zookeeper))"; return 0; fi
  port_open "$ZK_HOST" "$ZK_PORT" && fail zookeeper "$logf" "port $ZK_PORT is taken by a process this stack did not start: $(port_owner "$ZK_PORT")"
  mkdir -p "$CONF/zookeeper" "$DATA/zookeeper"
  cat >"$CONF/zookeeper/zoo.cfg" <<EOF
tickTime=1000
dataDir=$DATA/zookeeper
clientPort=$ZK_PORT
clientPortAddress=$ZK_HOST
maxSessionTimeout=60000
admin.enableServer=false
4lw.commands.whitelist=ruok
autopurge.purgeInterval=1
EOF
  log "starting on $ZK_HOST:$ZK_PORT"
  launch zookeeper "$LOGS/zookeeper.out" "$JAVA" -Xmx"$ZK_HEAP" -Dflinkai.local.part=zookeeper -Dlog.file="$logf" \
    -Dlog4j.configurationFile="file:$CONF/flink/log4j.properties" -Dlog4j2.configurationFile="file:$CONF/flink/log4j.properties" \
    -cp "$CACHE/cluster/lib/*" org.apache.flink.runtime.zookeeper.FlinkZooKeeperQuorumPeer \
    --zkConfigFile "$CONF/zookeeper/zoo.cfg" --peerId 1
}
zookeeper_ready() { [[ "$(exec 3<>"/dev/tcp/$ZK_HOST/$ZK_PORT" && printf ruok >&3 && timeout 2 cat <&3)" == imok ]]; }

# --- 4. Flink session cluster -------------------------------------------------------------------------------------
write_flink_conf() {
  mkdir -p "$CONF/flink" "$DATA/flink-tmp" "$DATA/flink-web-upload"
  cp "$LOCAL_DIR/conf/flink-log4j.properties" "$CONF/flink/log4j.properties"
  cat >"$CONF/flink/config.yaml" <<EOF
# Generated by deploy/local/up.sh from stack.env - edit those, not this file.
jobmanager.rpc.address: ${FLINK_REST_HOST}
jobmanager.rpc.port: ${FLINK_RPC_PORT}
jobmanager.bind-host: ${FLINK_REST_HOST}
taskmanager.bind-host: ${FLINK_REST_HOST}
taskmanager.host: ${FLINK_REST_HOST}
jobmanager.memory.process.size: ${JM_PROCESS_SIZE}
taskmanager.memory.process.size: ${TM_PROCESS_SIZE}
# Each job submission leaves ~20-30 MB of classes behind in the TaskManager (seen in the benchmarks, which
# submit a dozen jobs); the 256 MB default ran out after about 12.
taskmanager.memory.jvm-metaspace.size: 512m
taskmanager.numberOfTaskSlots: ${TM_SLOTS}
parallelism.default: 1
jobmanager.execution.failover-strategy: region
rest.address: ${FLINK_REST_HOST}
rest.bind-address: ${FLINK_REST_HOST}
rest.port: ${FLINK_REST_PORT}
web.upload.dir: ${DATA}/flink-web-upload
web.submit.enable: true
web.cancel.enable: true
io.tmp.dirs: ${DATA}/flink-tmp

# State: RocksDB, incremental checkpoints on S3, savepoints next to them
state.backend.type: rocksdb
execution.checkpointing.incremental: true
execution.checkpointing.dir: ${CHECKPOINT_DIR}
execution.checkpointing.savepoint-dir: ${SAVEPOINT_DIR}
execution.checkpointing.num-retained: 3
execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION
# RocksDB writes one LOG per state instance into the log dir: keep it small
state.backend.rocksdb.log.level: HEADER_LEVEL
state.backend.rocksdb.log.max-file-size: 1mb
state.backend.rocksdb.log.file-num: 2

# a killed TaskManager is noticed after ~2 failed heartbeat RPCs instead of ~15 s (each deployment to the dead one
# before that uses up a restart attempt)
heartbeat.interval: 3000
heartbeat.rpc-failure-threshold: 2
restart-strategy.type: failure-rate
restart-strategy.failure-rate.max-failures-per-interval: ${RESTART_MAX_FAILURES}
restart-strategy.failure-rate.failure-rate-interval: ${RESTART_FAILURE_INTERVAL}
restart-strategy.failure-rate.delay: ${RESTART_DELAY}
execution.checkpointing.timeout: ${CHECKPOINT_TIMEOUT}
execution.checkpointing.tolerable-failed-checkpoints: ${CHECKPOINT_TOLERABLE_FAILURES}

# JobManager HA (ZooKeeper): a restarted JobManager recovers the running jobs
high-availability.type: zookeeper
high-availability.zookeeper.quorum: ${ZK_HOST}:${ZK_PORT}
high-availability.zookeeper.client.session-timeout: ${ZK_SESSION_TIMEOUT_MS}
high-availability.storageDir: file://${DATA}/flink-ha
high-availability.cluster-id: /local

# DJL lives in the cluster lib/ and loads parent-first: its JNI library is loaded once per TaskManager
classloader.parent-first-patterns.additional:
  - ai.djl.
env.java.opts.taskmanager: "${TM_DJL_OPTS[*]}"

# S3 (flink-s3-fs-hadoop plugin, S3A). Not the presto plugin: its output stream writes every checkpoint byte
# through a per-byte FilterOutputStream.write(int); its upload threads took 4 % of the TaskManager's CPU, S3A's 1 %.
s3.endpoint: ${S3_ENDPOINT}
s3.path.style.access: true
s3.access-key: ${S3_ACCESS_KEY}
s3.secret-key: ${S3_SECRET_KEY}
# S3Proxy: without these two S3A stalls ~30 s on every bulk delete
s3.directory.marker.retention: keep
s3.multiobjectdelete.enable: false

# Metrics: Prometheus endpoint per process (JobManager first port, TaskManagers the next ones)
metrics.reporter.prom.factory.class: org.apache.flink.metrics.prometheus.PrometheusReporterFactory
metrics.reporter.prom.port: ${PROM_PORTS}
EOF
}

# flink_jvm_params <JM|TM>: memory flags computed by Flink itself, as flink-dist's scripts do. Two lines: JVM flags,
# then dynamic -D properties for the entrypoint.
flink_jvm_params() {
  local out
  out="$("$JAVA" -Xmx128m -Dlog4j2.level=ERROR -cp "$CACHE/cluster/lib/*" \
    org.apache.flink.runtime.util.bash.BashJavaUtils "GET_$1_RESOURCE_PARAMS" --configDir "$CONF/flink" 2>"$LOGS/bash-java-utils.log")" \
    || return 1
  grep '^BASH_JAVA_UTILS_EXEC_RESULT:' <<<"$out" | sed 's/^BASH_JAVA_UTILS_EXEC_RESULT://' | head -n 2
}

start_jobmanager() {
  local PART=jobmanager logf="$LOGS/jobmanager.log"
  if pid_of jobmanager >/dev/null; then log "running (pid $(pid_of jobmanager))"; return 0; fi
  port_open "$FLINK_REST_HOST" "$FLINK_REST_PORT" && fail jobmanager "$logf" "port $FLINK_REST_PORT is taken by a process this stack did not start: $(port_owner $FLINK_REST_PORT)"
  local params jvm dyn
  params="$(flink_jvm_params JM)" || fail jobmanager "$logf" "BashJavaUtils GET_JM_RESOURCE_PARAMS failed"
  jvm="$(sed -n 1p <<<"$params")"; dyn="$(sed -n 2p <<<"$params")"
  log "starting JobManager, web UI $FLINK_URL"
  # shellcheck disable=SC2086 # the computed flags are word lists
  FLINK_CONF_DIR="$CONF/flink" FLINK_PLUGINS_DIR="$CACHE/cluster/plugins" FLINK_LOG_DIR="$LOGS" \
    launch jobmanager "$LOGS/jobmanager.out" "$JAVA" $jvm "${FLINK_MODULE_OPTS[@]}" -Dflinkai.local.part=jobmanager \
    -Dlog.file="$logf" -Dlog4j.configurationFile="file:$CONF/flink/log4j.properties" \
    -Dlog4j2.configurationFile="file:$CONF/flink/log4j.properties" -cp "$CACHE/cluster/lib/*" \
    org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint --configDir "$CONF/flink" $dyn
}

# the REST API answers once a JobManager is leader, and then knows the jobs it recovered from ZooKeeper
jobmanager_ready() { rest_get /overview | jq -e '.taskmanagers != null' >/dev/null; }

tm_running_count() { rest_get /taskmanagers | jq '.taskmanagers | length'; }

# tm_registered <n>: TaskManager n is registered with the JobManager under the resource id of its latest start.
tm_registered() { rest_get /taskmanagers | jq -e --arg id "$(cat "$PIDS/taskmanager-$1.rid")" '.taskmanagers[] | select(.id == $id)' >/dev/null 2>&1; }

# start_taskmanager [n]: TaskManager number n (default 1); tm.sh uses it to add, restart or replace TaskManagers.
start_taskmanager() {
  local n="${1:-1}" name="taskmanager-${1:-1}"
  local PART=$name logf="$LOGS/$name.log"
  if pid_of "$name" >/dev/null; then log "running (pid $(pid_of "$name"))"; return 0; fi
  local params jvm dyn
  params="$(flink_jvm_params TM)" || fail "$name" "$logf" "BashJavaUtils GET_TM_RESOURCE_PARAMS failed"
  jvm="$(sed -n 1p <<<"$params")"; dyn="$(sed -n 2p <<<"$params")"
  # a fresh resource id per start: a replacement TaskManager is not mistaken for the lost one
  local rid="local-tm-$n-$(date +%H%M%S)"
  log "starting TaskManager $n ($TM_SLOTS slots) as $rid"
  mkdir -p "$CACHE/djl"
  rm -rf "$DATA/flink-tmp/tm_local-tm-$n-"*   # blobs and RocksDB dirs left by an earlier TaskManager n
  # shellcheck disable=SC2086
  FLINK_CONF_DIR="$CONF/flink" FLINK_PLUGINS_DIR="$CACHE/cluster/plugins" FLINK_LOG_DIR="$LOGS" \
    DJL_CACHE_DIR="$CACHE/djl" ENGINE_CACHE_DIR="$CACHE/djl" OMP_NUM_THREADS=1 \
    launch "$name" "$LOGS/$name.out" "$JAVA" $jvm "${FLINK_MODULE_OPTS[@]}" "${TM_DJL_OPTS[@]}" -Dflinkai.local.part="$name" \
    -Dlog.file="$logf" -Dlog4j.configurationFile="file:$CONF/flink/log4j.properties" \
    -Dlog4j2.configurationFile="file:$CONF/flink/log4j.properties" -cp "$CACHE/cluster/lib/*" \
    org.apache.flink.runtime.taskexecutor.TaskManagerRunner --configDir "$CONF/flink" \
    -D "taskmanager.resource-id=$rid" -D "taskmanager.numberOfTaskSlots=$TM_SLOTS" $dyn
  echo "$rid" >"$PIDS/$name.rid"
}

# --- 4b. SQL Gateway: SQL sessions on the session cluster, over REST (the SQL client and tools connect to it) ---------
# It plans with the job jar on its classpath (the flinkai-avro format, the functions, the ML_PREDICT model provider,
# the Kafka connector) and ships it with every statement's job (pipeline.jars).
start_sql_gateway() {
  local PART=sql-gateway logf="$LOGS/sql-gateway.log"
  if pid_of sql-gateway >/dev/null; then log "running (pid $(pid_of sql-gateway))"; return 0; fi
  port_open "$SQL_GATEWAY_HOST" "$SQL_GATEWAY_PORT" && fail sql-gateway "$logf" "port $SQL_GATEWAY_PORT is taken by a process this stack did not start: $(port_owner "$SQL_GATEWAY_PORT")"
  log "starting the SQL Gateway on $SQL_GATEWAY_HOST:$SQL_GATEWAY_PORT"
  FLINK_CONF_DIR="$CONF/flink" DJL_CACHE_DIR="$CACHE/djl" ENGINE_CACHE_DIR="$CACHE/djl" OMP_NUM_THREADS=1 \
    launch sql-gateway "$LOGS/sql-gateway.out" "$JAVA" -Xmx512m "${FLINK_MODULE_OPTS[@]}" "${TM_DJL_OPTS[@]}" \
    -Dflinkai.local.part=sql-gateway -Dlog.file="$logf" -Dlog4j.configurationFile="file:$CONF/flink/log4j.properties" \
    -Dlog4j2.configurationFile="file:$CONF/flink/log4j.properties" -cp "$CACHE/cluster/lib/*:$CACHE/sql/lib/*:$JOB_JAR" \
    org.apache.flink.table.gateway.SqlGateway \
    -Dsql-gateway.endpoint.rest.address="$SQL_GATEWAY_HOST" -Dsql-gateway.endpoint.rest.port="$SQL_GATEWAY_PORT" \
    -Dexecution.target=remote -Drest.address="$FLINK_REST_HOST" -Drest.port="$FLINK_REST_PORT" \
    -Dpipeline.jars="file://$JOB_JAR"
}
sql_gateway_ready() { curl -sf --max-time 2 "http://$SQL_GATEWAY_HOST:$SQL_GATEWAY_PORT/v1/info" >/dev/null; }

# When sourced by tm.sh, stop here: it only needs the functions above.
[[ "${UP_FUNCTIONS_ONLY:-0}" == 1 ]] && return 0

fetch broker broker-pom.xml "$CACHE/broker/lib" &
fetch cluster cluster-pom.xml "$CACHE/cluster/lib" &
fetch tools tools-pom.xml "$CACHE/tools/lib" &
fetch sql sql-pom.xml "$CACHE/sql/lib" &
rm -rf "$CACHE/cluster/plugins/s3-fs-presto"   # left by earlier versions; two plugins cannot both serve s3://
fetch_one s3-fs-hadoop org.apache.flink:flink-s3-fs-hadoop:2.3.0 "$CACHE/cluster/plugins/s3-fs-hadoop" &
if ! command -v minio >/dev/null; then
  fetch_one s3proxy org.gaul:s3proxy:4.1.0:jar:jar-with-dependencies "$CACHE/s3proxy" &
fi
for p in $(jobs -p); do wait "$p" || exit 1; done
if [[ ! -f "$CACHE/djl/.complete" ]]; then
  PART=fetch log "unpacking DJL's PyTorch library into deploy/local/.cache/djl (once)"
  mkdir -p "$CACHE/djl"
  DJL_CACHE_DIR="$CACHE/djl" ENGINE_CACHE_DIR="$CACHE/djl" "$JAVA" -Xmx256m "${TM_DJL_OPTS[@]}" -Dlog4j2.level=ERROR \
    -cp "$CACHE/cluster/lib/*" "$TOOLS/DjlEngine.java" >"$LOGS/fetch-djl.log" 2>&1 \
    || fail fetch-djl "$LOGS/fetch-djl.log" "DJL could not load its PyTorch engine"
  touch "$CACHE/djl/.complete"
fi

if [[ ! -f "$JOB_JAR" && "${SUBMIT_JOBS:-1}" == 1 ]]; then
  PART=build log "job jar missing: mvn -q -B -DskipTests install (log: run/logs/build.log)"
  (cd "$REPO_DIR" && mvn -q -B -DskipTests install) >"$LOGS/build.log" 2>&1 \
    || fail "build" "$LOGS/build.log" "mvn install of the job jar failed"
fi

# The jobs' settings are checked by the jobs' own code before anything starts, unless both jobs already run.
if [[ "${SUBMIT_JOBS:-1}" == 1 ]] && ! { port_open "$FLINK_REST_HOST" "$FLINK_REST_PORT" \
    && [[ -n "$(job_id_by_name "$JOB_NAME")" ]] && { [[ "$START_GENERATOR" != 1 ]] || [[ -n "$(job_id_by_name "$GENERATOR_NAME")" ]]; }; }; then
  PART=settings
  mapfile -t MAIN_ARGS < <(main_job_args)
  why="$(check_settings "$JOB_CLASS" "${MAIN_ARGS[@]}")" || die "$why"
  if [[ "$START_GENERATOR" == 1 ]]; then
    mapfile -t GEN_ARGS < <(generator_args)
    why="$(check_settings "$GENERATOR_CLASS" "${GEN_ARGS[@]}")" || die "$why"
  fi
  if [[ "$START_KPIS" == 1 ]]; then
    mapfile -t KPI_JOB_ARGS < <(kpi_job_args)
    why="$(check_settings "$KPI_CLASS" "${KPI_JOB_ARGS[@]}")" || die "$why"
  fi
  if [[ "$START_OPS" == 1 ]]; then
    mapfile -t OPS_JOB_ARGS < <(ops_job_args)
    why="$(check_settings "$OPS_CLASS" "${OPS_JOB_ARGS[@]}")" || die "$why"
  fi
  log "job settings accepted"
fi

start_kafka
start_s3
[[ "$MODEL_BACKEND" == remote ]] && start_model_server
write_flink_conf
start_zookeeper
PART=zookeeper wait_until zookeeper "$LOGS/zookeeper.log" 60 zookeeper_ready   # the JobManager's leader election needs it
start_jobmanager
start_taskmanager 1
start_sql_gateway

# --- 5. wait for each part ----------------------------------------------------------------------------------------
PART=kafka wait_until kafka "$LOGS/kafka.log" 90 port_open "$KAFKA_HOST" "$KAFKA_PORT"
PART=s3 wait_until s3 "$LOGS/s3.log" 60 port_open "$S3_HOST" "$S3_PORT"
[[ "$MODEL_BACKEND" == remote ]] && PART=model-server wait_until model-server "$LOGS/model-server.log" 90 model_server_ready
PART=jobmanager wait_until jobmanager "$LOGS/jobmanager.log" 90 jobmanager_ready
PART=taskmanager-1 wait_until taskmanager-1 "$LOGS/taskmanager-1.log" 90 \
  bash -c "curl -sf --max-time 5 $FLINK_URL/taskmanagers | jq -e '.taskmanagers | length > 0'"
PART=sql-gateway wait_until sql-gateway "$LOGS/sql-gateway.log" 90 sql_gateway_ready
PART=stack log "kafka, s3, $([[ "$MODEL_BACKEND" == remote ]] && echo 'model server, ')zookeeper, jobmanager, taskmanager, SQL Gateway up ($((SECONDS - T0)) s)"
"$REPO_DIR/deploy/prometheus/run-local.sh" start

# --- 6. topics, buckets, model -------------------------------------------------------------------------------------
# Topics, buckets and the model are checked once per start of the broker and the S3 store (stamps in run/), so a
# second up.sh on a running stack does not pay for the JVMs these checks take.
PART=topics
topics_ready() { # creates the missing topics (one JVM to list, one per missing topic)
  local have t spec
  have="$(topics --list 2>>"$LOGS/topics.log")" || return 1
  for spec in "$TOPIC_EVENTS:$TOPIC_EVENTS_PARTITIONS" "$TOPIC_PREDICTIONS:$TOPIC_PREDICTIONS_PARTITIONS" \
      "$TOPIC_DEAD_LETTERS:1" "$TOPIC_PROFILES:$TOPIC_EVENTS_PARTITIONS:compact" "$TOPIC_MODEL_UPDATES:1" \
      "$TOPIC_MODEL_EVENTS:1" "$TOPIC_KPIS:1:compact" "$TOPIC_ALERTS:1"; do
    IFS=: read -r t partitions policy <<<"$spec"
    grep -qx -- "$t" <<<"$have" && continue
    topics --create --if-not-exists --topic "$t" --partitions "$partitions" --replication-factor 1 \
      ${policy:+--config cleanup.policy=$policy} >>"$LOGS/topics.log" 2>&1 || return 1
  done
}
topics_stamp="kafka $(pid_of kafka) $TOPIC_EVENTS $TOPIC_PREDICTIONS $TOPIC_DEAD_LETTERS $TOPIC_PROFILES $TOPIC_MODEL_UPDATES $TOPIC_MODEL_EVENTS $TOPIC_KPIS $TOPIC_ALERTS"
if [[ "$(cat "$RUN/topics.ok" 2>/dev/null)" != "$topics_stamp" ]]; then
  wait_until kafka "$LOGS/topics.log" 60 topics_ready
  echo "$topics_stamp" >"$RUN/topics.ok"
fi
log "topics $TOPIC_EVENTS ($TOPIC_EVENTS_PARTITIONS partitions), $TOPIC_PREDICTIONS, $TOPIC_DEAD_LETTERS, $TOPIC_PROFILES (compacted), $TOPIC_MODEL_UPDATES, $TOPIC_MODEL_EVENTS, $TOPIC_KPIS (compacted), $TOPIC_ALERTS present"

PART=s3-init
MODEL_DIR="${MODEL_DIR:-$REPO_DIR/notebooks/model}"
s3_stamp="s3 $(pid_of s3) $S3_BUCKET_FLINK $S3_BUCKET_MODELS $MODEL_PREFIX $(cksum "$MODEL_DIR"/next_event_mlp.pt "$MODEL_DIR"/next_event_mlp.json 2>/dev/null | tr '\n' ' ')"
if [[ "$(cat "$RUN/s3.ok" 2>/dev/null)" != "$s3_stamp" ]]; then
  # creating the buckets doubles as the readiness check of the S3 API
  wait_until s3 "$LOGS/s3-init.log" 60 bash -c "source '$LOCAL_DIR/lib.sh' && s3_tool mb '$S3_BUCKET_FLINK' '$S3_BUCKET_MODELS' >>'$LOGS/s3-init.log' 2>&1"
  listed="$(s3_tool ls "$S3_BUCKET_MODELS" "$MODEL_PREFIX" 100 2>>"$LOGS/s3-init.log")" || fail s3-init "$LOGS/s3-init.log" "listing s3://$S3_BUCKET_MODELS failed"
  for f in next_event_mlp.pt next_event_mlp.json; do
    [[ -f "$MODEL_DIR/$f" ]] || fail s3-init "$LOGS/s3-init.log" "model file $MODEL_DIR/$f is missing (train it with the notebook first)"
    if ! grep -q "^$MODEL_PREFIX$f " <<<"$listed" || ! cmp -s "$MODEL_DIR/$f" "$RUN/uploaded-$f"; then
      s3_tool put "$S3_BUCKET_MODELS" "$MODEL_PREFIX$f" "$MODEL_DIR/$f" >>"$LOGS/s3-init.log" 2>&1 \
        || fail s3-init "$LOGS/s3-init.log" "upload of $f failed"
      cp "$MODEL_DIR/$f" "$RUN/uploaded-$f"
    fi
  done
  echo "$s3_stamp" >"$RUN/s3.ok"
fi
log "buckets $S3_BUCKET_FLINK, $S3_BUCKET_MODELS; model at s3://$S3_BUCKET_MODELS/$MODEL_PREFIX"

if [[ "${SUBMIT_JOBS:-1}" != 1 ]]; then
  echo; echo "Stack up without jobs (SUBMIT_JOBS=${SUBMIT_JOBS}) in $((SECONDS - T0)) s. Web UI: $FLINK_URL  Stop: deploy/local/down.sh"; exit 0
fi

# --- 7. jobs ------------------------------------------------------------------------------------------------------
PART=jobs
submit() { # submit <job name> <entry class> <parallelism> <savepoint or ""> <args...>
  local name="$1" cls="$2" par="$3" sp="$4"; shift 4
  local jid jar
  jid="$(job_id_by_name "$name")"
  if [[ -n "$jid" ]]; then log "$name already submitted ($jid, $(job_state "$jid"))"; echo "$jid" >"$RUN/$name.jobid"; return 0; fi
  jar="$(upload_jar)" || fail jobs "$LOGS/jobmanager.log" "upload of $JOB_JAR failed"
  jid="$(run_jar "$jar" "$cls" "$par" "$sp" "$@" 2>>"$LOGS/submit.log")" \
    || fail "$name" "$LOGS/submit.log" "REST run of $cls refused: $(grep '^run of' "$LOGS/submit.log" | tail -n 1)"
  echo "$jid" >"$RUN/$name.jobid"
  log "$name submitted: $jid${sp:+ (from savepoint $sp)}"
  SUBMITTED+=("$name")
}
SUBMITTED=()
SAVEPOINT_FILE="$DATA/$JOB_NAME.savepoint"   # written by down.sh (stop-with-savepoint), resumed once here
resume_from=""
if [[ -z "$(job_id_by_name "$JOB_NAME")" && -s "$SAVEPOINT_FILE" ]]; then resume_from="$(cat "$SAVEPOINT_FILE")"; fi
mapfile -t MAIN_ARGS < <(main_job_args)
submit "$JOB_NAME" "$JOB_CLASS" "$JOB_PARALLELISM" "$resume_from" "${MAIN_ARGS[@]}"
[[ -n "$resume_from" ]] && mv "$SAVEPOINT_FILE" "$SAVEPOINT_FILE.resumed"

MAIN_JID="$(cat "$RUN/$JOB_NAME.jobid")"
PART=$JOB_NAME
job_ok() {
  local st; st="$(job_state "$MAIN_JID")"
  [[ "$st" == FAILED || "$st" == CANCELED || "$st" == FINISHED ]] && { echo "job $MAIN_JID is $st" >&2; return 2; }
  job_fully_running "$MAIN_JID"
}
deadline=$((SECONDS + 120))
until job_ok 2>>"$LOGS/submit.log"; do
  [[ $? == 2 ]] && fail "$JOB_NAME" "$LOGS/jobmanager.log" "job $MAIN_JID is $(job_state "$MAIN_JID") (see $FLINK_URL/#/job/completed/$MAIN_JID/exceptions)"
  ((SECONDS < deadline)) || fail "$JOB_NAME" "$LOGS/taskmanager-1.log" "job $MAIN_JID not RUNNING after 120 s ($(job_state "$MAIN_JID"),"\
    "last exception: $(rest_get "/jobs/$MAIN_JID/exceptions" | jq -r '.exceptionHistory.entries[0].exceptionName // "none"'))"
  sleep 1
done
log "RUNNING ($MAIN_JID)"
# The generator only after the main job runs: deploying both at once slows the main job's start on two cores.
if [[ "$START_GENERATOR" == 1 ]]; then
  mapfile -t GEN_ARGS < <(generator_args)
  PART=jobs submit "$GENERATOR_NAME" "$GENERATOR_CLASS" 1 "" "${GEN_ARGS[@]}"
fi
if [[ "$START_KPIS" == 1 ]]; then
  mapfile -t KPI_JOB_ARGS < <(kpi_job_args)
  PART=jobs submit "$KPI_NAME" "$KPI_CLASS" 1 "" "${KPI_JOB_ARGS[@]}"
fi
if [[ "$START_OPS" == 1 ]]; then
  mapfile -t OPS_JOB_ARGS < <(ops_job_args)
  PART=jobs submit "$OPS_NAME" "$OPS_CLASS" 1 "" "${OPS_JOB_ARGS[@]}"
fi
if ((${#SUBMITTED[@]})); then # a job was (re)submitted: wait for its first predictions
  predictions_tool tail 20 120 >"$LOGS/predictions-check.log" 2>&1 \
    || fail predictions "$LOGS/predictions-check.log" "no predictions on '$TOPIC_PREDICTIONS' within 120 s (job log: $LOGS/taskmanager-1.log)"
  log "predictions arrive: $(head -n 1 "$LOGS/predictions-check.log")"
fi

cat <<EOF

Local stack up in $((SECONDS - T0)) s.
  Flink web UI:   $FLINK_URL   (job $MAIN_JID)
  Model:          $([[ "$MODEL_BACKEND" == remote ]] && echo "$MODEL_SERVER_URI (falls back to $MODEL_URI in-process)" || echo "$MODEL_URI, in-process")
  Metrics:        curl -s http://127.0.0.1:9250/metrics | grep '^flink_taskmanager_job_task_operator_inference_'
                  (Prometheus format; JobManager on 9249, TaskManagers from 9250)
  Prometheus:     http://$PROMETHEUS_HOST:$PROMETHEUS_PORT   (alerts: /alerts; rules: deploy/prometheus/rules)
  SQL:            deploy/local/sql.sh    (SQL client on the SQL Gateway, REST http://$SQL_GATEWAY_HOST:$SQL_GATEWAY_PORT)
  S3:             $S3_ENDPOINT  (access key $S3_ACCESS_KEY, secret in deploy/local/stack.env)
  Logs:           $LOGS
  Watch predictions (Avro, so values print as bytes; or: deploy/local/watch-predictions.sh):
    java -Xmx256m -cp '$CACHE/broker/lib/*' org.apache.kafka.tools.consumer.ConsoleConsumer \\
      --bootstrap-server $KAFKA_BOOTSTRAP --topic $TOPIC_PREDICTIONS --isolation-level read_committed --property print.key=true
  Stop:           deploy/local/down.sh    (--wipe also deletes run/data: topics, buckets, checkpoints)
EOF
