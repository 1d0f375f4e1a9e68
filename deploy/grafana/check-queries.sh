#!/usr/bin/env bash
# Runs every panel query of the dashboard (dashboards/flink-ai.json) against a Prometheus and prints one line per
# query: OK with its number of series, EMPTY, or ERROR. Grafana's interval variables are replaced as Grafana would
# at the local stack's 5 s scrape ($__rate_interval -> 1m).
#   deploy/grafana/check-queries.sh PROMETHEUS_URL [--may-be-empty "PANEL TITLE"]...
# A panel named with --may-be-empty may be EMPTY (its description says when it has data, e.g. only with the remote
# model backend); a title that names no panel is an error. Exit status 0 only if every other query returned data.
set -euo pipefail
DASHBOARD="${DASHBOARD:-$(dirname "$0")/dashboards/flink-ai.json}"
[[ $# -ge 1 ]] || { echo "usage: $0 PROMETHEUS_URL [--may-be-empty 'PANEL TITLE']..." >&2; exit 2; }
url="${1%/}"; shift
declare -A may_be_empty=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --may-be-empty) [[ $# -ge 2 ]] || { echo "--may-be-empty needs a panel title" >&2; exit 2; }; may_be_empty["$2"]=1; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
for title in "${!may_be_empty[@]}"; do
  jq -e --arg t "$title" '[.. | objects | select(has("targets")) | .title] | index($t) != null' "$DASHBOARD" >/dev/null \
    || { echo "--may-be-empty '$title': no panel of $DASHBOARD has that title" >&2; exit 2; }
done

failed=0; total=0
# every target of every panel, rows' nested panels included
while IFS=$'\t' read -r title ref expr; do
  total=$((total + 1))
  query="$(sed -e 's/\$__rate_interval/1m/g' -e 's/\$__interval/5s/g' -e 's/\$__range/30m/g' <<<"$expr")"
  if ! out="$(curl -sS --max-time 30 -G --data-urlencode "query=$query" "$url/api/v1/query" 2>&1)"; then
    status="ERROR  $out"
  elif [[ "$(jq -r '.status' <<<"$out" 2>/dev/null)" != success ]]; then
    status="ERROR  $(jq -r '.error // .' <<<"$out" 2>/dev/null || echo "$out")"
  else
    n="$(jq '.data.result | length' <<<"$out")"
    if ((n > 0)); then status="OK     $n series"
    elif [[ -n "${may_be_empty[$title]:-}" ]]; then status="EMPTY  (allowed: $(jq -r --arg t "$title" \
      '[.. | objects | select(.title? == $t)][0].description | split(":")[0]' "$DASHBOARD"))"
    else status="EMPTY"; fi
  fi
  [[ "$status" == OK* || "$status" == "EMPTY  (allowed"* ]] || failed=$((failed + 1))
  printf '%-60s %s  %s\n' "$title [$ref]" "$status" "$query"
done < <(jq -r '.. | objects | select(has("targets")) | .title as $t | .targets[] | [$t, .refId, .expr] | @tsv' "$DASHBOARD")

echo "$total queries, $failed without data or failed"
((failed == 0))
