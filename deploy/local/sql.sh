#!/usr/bin/env bash
# The Flink SQL client, connected to the local stack's SQL Gateway (deploy/local/up.sh starts it).
#   deploy/local/sql.sh               an interactive session
#   deploy/local/sql.sh -f FILE       runs the statements in FILE and prints their results
# Any other argument goes to the SQL client (`org.apache.flink.table.client.SqlClient gateway --help`).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PART=sql
curl -sf --max-time 2 "http://$SQL_GATEWAY_HOST:$SQL_GATEWAY_PORT/v1/info" >/dev/null \
  || die "no SQL Gateway on $SQL_GATEWAY_HOST:$SQL_GATEWAY_PORT: start the stack with deploy/local/up.sh"
FLINK_CONF_DIR="$CONF/flink" exec "$JAVA" -Xmx256m -Dlog4j2.level=ERROR -cp "$CACHE/cluster/lib/*:$CACHE/sql/lib/*" \
  org.apache.flink.table.client.SqlClient gateway --endpoint "$SQL_GATEWAY_HOST:$SQL_GATEWAY_PORT" "$@"
