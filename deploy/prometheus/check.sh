#!/usr/bin/env bash
# Checks the Prometheus configurations and rules and runs the rules' unit tests (tests/*.test.yml) with promtool
# (Debian: apt-get install prometheus). Exit status 0 only if all pass. CI and deploy/local/e2e.sh call it.
set -euo pipefail
cd "$(dirname "$0")"
PROMTOOL="${PROMTOOL:-promtool}"
command -v "$PROMTOOL" >/dev/null || { echo "promtool missing (apt-get install prometheus)" >&2; exit 1; }

"$PROMTOOL" check rules rules/*.rules.yml
# both configurations load the rules (the local one's target files are written at start: a warning here)
"$PROMTOOL" check config prometheus.yml
"$PROMTOOL" check config prometheus-local.yml
"$PROMTOOL" test rules tests/*.test.yml
