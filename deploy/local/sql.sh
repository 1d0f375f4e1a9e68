#!/usr/bin/env bash
# The Flink SQL client, connected to the local stack's SQL Gateway (deploy/local/up.sh starts it).
#   deploy/local/sql.sh                     an interactive session
#   deploy/local/sql.sh -f FILE             runs the statements in FILE and prints their results
# In FILE, ${NAME} is replaced by the stack's setting of that name (deploy/local/stack.env: TOPIC_EVENTS,
# KAFKA_BOOTSTRAP, MODEL_URI, S3_ENDPOINT, ...) and ${NOW_MINUS_30S} / ${NOW_MINUS_120S} by those instants in epoch
# milliseconds, so a file follows the stack's settings. Other arguments go to the SQL client
# (`org.apache.flink.table.client.SqlClient gateway --help`).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PART=sql
curl -sf --max-time 2 "http://$SQL_GATEWAY_HOST:$SQL_GATEWAY_PORT/v1/info" >/dev/null \
  || die "no SQL Gateway on $SQL_GATEWAY_HOST:$SQL_GATEWAY_PORT: start the stack with deploy/local/up.sh"
args=()
while [[ $# -gt 0 ]]; do
  if [[ "$1" == -f && $# -gt 1 ]]; then
    [[ -f "$2" ]] || die "no file $2"
    now="$(date +%s%3N)"
    rendered="$RUN/sql-$(basename "$2")"
    # the stack's settings are shell variables here; export them for the substitution
    export TOPIC_EVENTS TOPIC_PREDICTIONS TOPIC_DEAD_LETTERS TOPIC_PROFILES TOPIC_KPIS KAFKA_BOOTSTRAP MODEL_URI \
      S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY
    SQL_FILE="$2" NOW_MINUS_30S=$((now - 30000)) NOW_MINUS_120S=$((now - 120000)) \
      perl -pe 's/\$\{(\w+)\}/defined $ENV{$1} ? $ENV{$1} : die "unknown setting \${$1} in $ENV{SQL_FILE}\n"/ge' "$2" >"$rendered"
    args+=(-f "$rendered"); shift 2
  else
    args+=("$1"); shift
  fi
done
FLINK_CONF_DIR="$CONF/flink" exec "$JAVA" -Xmx256m -Dlog4j2.level=ERROR -cp "$CACHE/cluster/lib/*:$CACHE/sql/lib/*" \
  org.apache.flink.table.client.SqlClient gateway --endpoint "$SQL_GATEWAY_HOST:$SQL_GATEWAY_PORT" "${args[@]}"
