#!/usr/bin/env bash
# The local stack's Prometheus (Debian's package: /usr/bin/prometheus), scraping the JobManager and every TaskManager
# of deploy/local every 5 s and evaluating rules/ (config: prometheus-local.yml).
#   deploy/prometheus/run-local.sh start     start it unless it runs (up.sh, once the cluster is up); refresh targets
#   deploy/prometheus/run-local.sh targets   scrape the Flink processes that listen now (after tm.sh changed them)
#   deploy/prometheus/run-local.sh stop      stop it (down.sh)
# UI and API on http://$PROMETHEUS_HOST:$PROMETHEUS_PORT (/alerts, /targets, /api/v1/...). Data: run/data/prometheus
# (2 days kept), log: run/logs/prometheus.log, PID file: run/pids/prometheus.pid, all under deploy/local.
set -euo pipefail
source "$(dirname "$0")/../local/lib.sh"
PROMETHEUS="${PROMETHEUS:-/usr/bin/prometheus}"
PROMETHEUS_CONFIG="$REPO_DIR/deploy/prometheus/prometheus-local.yml"
TARGETS="$CONF/prometheus"   # prometheus-local.yml reads its file_sd files here
PART=prometheus
LOGF="$LOGS/prometheus.log"

# Each Flink process takes the first free port of PROM_PORTS; what a port serves says which process it is. The
# JobManager's target stays the first port while it is down, so that FlinkJobManagerDown can fire. A file is replaced
# whole (Prometheus re-reads it on change and must not see it half written).
write_targets() {
  local lo hi p kind jm="" tms=()
  IFS=- read -r lo hi <<<"$PROM_PORTS"
  for ((p = lo; p <= hi; p++)); do
    kind="$(curl -s --max-time 5 "http://127.0.0.1:$p/metrics" 2>/dev/null | grep -m 1 -oE '^flink_(jobmanager|taskmanager)_' || true)"
    case "$kind" in
      flink_jobmanager_) jm="127.0.0.1:$p" ;;
      flink_taskmanager_) tms+=("127.0.0.1:$p") ;;
    esac
  done
  mkdir -p "$TARGETS"
  jq -n --arg t "${jm:-127.0.0.1:$lo}" '[{targets: [$t]}]' >"$TARGETS/jobmanager.json.tmp"
  jq -n '[{targets: $ARGS.positional}]' --args "${tms[@]}" >"$TARGETS/taskmanagers.json.tmp"
  mv "$TARGETS/jobmanager.json.tmp" "$TARGETS/jobmanager.json"
  mv "$TARGETS/taskmanagers.json.tmp" "$TARGETS/taskmanagers.json"
  log "targets: JobManager ${jm:-127.0.0.1:$lo (not answering)}, TaskManagers ${tms[*]:-none}"
}

ready() { curl -sf --max-time 2 "http://$PROMETHEUS_HOST:$PROMETHEUS_PORT/-/ready" >/dev/null; }

start() {
  write_targets
  if pid_of prometheus >/dev/null; then log "running (pid $(pid_of prometheus))"; return 0; fi
  [[ -x "$PROMETHEUS" ]] || fail prometheus "$LOGF" "$PROMETHEUS is missing (Debian: apt-get install prometheus)"
  port_open "$PROMETHEUS_HOST" "$PROMETHEUS_PORT" && fail prometheus "$LOGF" "port $PROMETHEUS_PORT is taken by a process this stack did not start: $(port_owner "$PROMETHEUS_PORT")"
  mkdir -p "$DATA/prometheus"
  log "starting on http://$PROMETHEUS_HOST:$PROMETHEUS_PORT"
  # Prometheus refuses arguments it does not know, so the marker pid_of looks for goes into its argv[0].
  launch prometheus "$LOGF" bash -c 'exec -a "prometheus -Dflinkai.local.part=prometheus" "$0" "$@"' "$PROMETHEUS" \
    --config.file="$PROMETHEUS_CONFIG" --storage.tsdb.path="$DATA/prometheus" --storage.tsdb.retention.time=2d \
    --web.listen-address="$PROMETHEUS_HOST:$PROMETHEUS_PORT"
  wait_until prometheus "$LOGF" 60 ready
  log "ready: $(curl -s --max-time 5 "http://$PROMETHEUS_HOST:$PROMETHEUS_PORT/api/v1/rules" \
    | jq -r '[.data.groups[].rules[]] | "\(length) rules (\(map(select(.type == "alerting")) | length) alerting)"') loaded"
}

case "${1:-}" in
  start) start ;;
  targets) write_targets ;;
  stop) stop_part prometheus ;;
  *) die "usage: $0 start|targets|stop" ;;
esac
