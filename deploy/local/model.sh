#!/usr/bin/env bash
# Roll a model version out to the running job, or back, without a restart; see what each subtask serves.
#   deploy/local/model.sh publish <file>.pt --version X [--notes TEXT]
#       uploads <file>.pt and the <file>.json beside it (its version set to X) to
#       s3://$S3_BUCKET_MODELS/${MODEL_PREFIX}X/model.pt and writes a ModelUpdate to $TOPIC_MODEL_UPDATES. Every subtask
#       fetches it, checks its SHA-256, loads it, scores a smoke batch and only then switches; a version that fails a
#       check is rejected and the serving one stays. With MODEL_BACKEND=remote the version also goes into the model
#       server's repository ($MODEL_REPOSITORY), and, once the server has loaded it, the update addresses its URL.
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
      # Into the model server's repository (deploy/model-server/README.md): model.pt first, then metadata.json, each
      # renamed into place; the metadata makes the version visible. Files of the same version that differ are replaced
      # with the metadata taken away first, so the server never pairs the new model with the old metadata.
      dir="$MODEL_REPOSITORY/$MODEL_NAME/$version"
      if ! cmp -s "$file" "$dir/model.pt" || ! cmp -s "$work/model.json" "$dir/metadata.json"; then
        [[ -f "$dir/metadata.json" ]] && log "replacing the files of $MODEL_NAME $version in $MODEL_REPOSITORY"
        mkdir -p "$dir"
        rm -f "$dir/metadata.json"
        cp "$file" "$dir/.model.pt.tmp" && mv -f "$dir/.model.pt.tmp" "$dir/model.pt"
        cp "$work/model.json" "$dir/.metadata.json.tmp" && mv -f "$dir/.metadata.json.tmp" "$dir/metadata.json"
      fi
      uri="$MODEL_SERVER_URI/versions/$version"
      # The job opens the version with its call timeout (model.remote.timeout, 500 ms by default): the server loads it
      # first, on this request. One it cannot load is published all the same, and every subtask rejects it.
      code="$(curl -s -o "$work/ready" -w '%{http_code}' --max-time 120 "$uri/ready")" || true
      if [[ "$code" == 200 ]]; then
        log "the model server serves $MODEL_NAME $version"
      else
        [[ "$code" == 000 ]] && answer="no answer from $uri/ready" || answer="HTTP $code: $(head -c 300 "$work/ready")"
        log "WARNING: the model server does not serve $MODEL_NAME $version ($answer): the job will reject it"
      fi
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
