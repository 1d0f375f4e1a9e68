#!/usr/bin/env bash
# Prints each new prediction on the predictions topic as JSON (decoded Avro, committed records only). Ctrl-C to stop.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[[ -f "$JOB_JAR" ]] || die "job jar $JOB_JAR missing (it holds the Prediction class)"
predictions_tool follow
