#!/usr/bin/env bash
# Roll a model version out to the running job, or back, without a restart; see what each subtask serves.
#   deploy/local/model.sh publish <file>.pt --version X [--notes TEXT]
#       uploads <file>.pt and the <file>.json beside it (its version set to X) to
#       s3://$S3_BUCKET_MODELS/${MODEL_PREFIX}X/model.pt and writes a ModelUpdate to $TOPIC_MODEL_UPDATES. Every subtask
#       fetches it, checks its SHA-256, loads it, scores a smoke batch and only then switches; a version that fails a
#       check is rejected and the serving one stays. With MODEL_BACKEND=remote the version also goes into the model
#       server's repository, and the update addresses the server's version URL.
#       Rolling back is publishing an older version again.
#   deploy/local/model.sh status [--since EPOCH_MS]
#       what each subtask serves and its last model event (loaded / rejected / active), from $TOPIC_MODEL_EVENTS
#   deploy/local/model.sh await KIND VERSION SUBTASKS SINCE_MS [TIMEOUT_S]
#       waits until SUBTASKS subtasks reported KIND (LOADED, REJECTED, ACTIVE) for VERSION after SINCE_MS
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PART=model
MODEL_NAME="${MODEL_NAME:-next-event-mlp}"

usage() { sed -n '2,14p' "$0" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
[[ -f "$JOB_JAR" ]] || die "no $JOB_JAR: build it first (mvn -B -DskipTests install)"

case "$1" in
  publish)
    shift
    file="${1:-}"; [[ -n "$file" ]] || usage; shift
    version=""; notes="-"
    while [[ $# -gt 0 ]]; do
      case "$1" in
        --version) version="$2"; shift 2 ;;
        --notes) notes="$2"; shift 2 ;;
        *) usage ;;
      esac
    done
    [[ -n "$version" ]] || die "--version is required"
    [[ -f "$file" ]] || die "no model file $file"
    json="${file%.pt}.json"
    [[ -f "$json" ]] || die "no metadata $json beside $file"
    work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
    # The published metadata names the version the update names: predictions then carry it.
    jq --arg v "$version" '.version = $v' "$json" >"$work/model.json"
    sha="$(sha256sum "$file" | cut -d' ' -f1)"
    key="${MODEL_PREFIX}${version}/model"
    s3_tool put "$S3_BUCKET_MODELS" "$key.pt" "$file" >/dev/null
    s3_tool put "$S3_BUCKET_MODELS" "$key.json" "$work/model.json" >/dev/null
    uri="s3://$S3_BUCKET_MODELS/$key.pt"
    if [[ "$MODEL_BACKEND" == remote ]]; then
      dir="$MODEL_REPOSITORY/$MODEL_NAME/$version"
      mkdir -p "$dir"
      cp "$file" "$dir/model.pt"
      cp "$work/model.json" "$dir/metadata.json"
      uri="$MODEL_SERVER_URI/versions/$version"
    fi
    at="$(models_tool publish "$TOPIC_MODEL_UPDATES" "$MODEL_NAME" "$version" "$uri" "$sha" "$notes")"
    log "published $MODEL_NAME $version ($uri, sha256 $sha) at $at"
    echo "$at"
    ;;
  status)
    since=0
    [[ "${2:-}" == --since ]] && since="$3"
    models_tool status "$TOPIC_MODEL_EVENTS" "$since"
    ;;
  await)
    [[ $# -ge 5 ]] || usage
    models_tool await "$TOPIC_MODEL_EVENTS" "$2" "$3" "$4" "$5" "${6:-60}"
    ;;
  *) usage ;;
esac
