#!/usr/bin/env bash
# Re-trains the next-event models (version 1 and 2) headless and checks that the results match the committed metadata.
#
# Executes notebooks/train_next_event_model.ipynb into a temporary copy (the committed notebook is not modified),
# with the dataset regenerated into a temporary directory from the current Java feature code, then compares the
# "metrics" of each freshly written model/<name>.json with the committed one (tolerance 1e-3).
# The committed model files are restored afterwards, so the git tree stays as it was; on a mismatch the fresh
# files are kept in a directory printed in the message.
#
# Expects the build to be done already (schemas and operators compiled or installed, e.g.
# `mvn -q -o -pl schemas,operators -am install -DskipTests`), `java` on PATH, and /usr/bin/python3 with torch,
# pandas and nbconvert (kernel "python3"). Runnable from any directory.
set -euo pipefail

NB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NOTEBOOK="$NB_DIR/train_next_event_model.ipynb"
MODEL_DIR="$NB_DIR/model"
PY="${PYTHON:-/usr/bin/python3}"
TOLERANCE="1e-3"

MODELS=(next_event_mlp next_event_mlp_v2)
FILES=()
for m in "${MODELS[@]}"; do FILES+=("$m.json" "$m.pt"); done
for f in "${FILES[@]}"; do
  [[ -f "$MODEL_DIR/$f" ]] || { echo "check_model: missing committed $MODEL_DIR/$f" >&2; exit 2; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/check-next-event-model.XXXXXX")"
mkdir -p "$WORK/committed" "$WORK/fresh" "$WORK/data"
for f in "${FILES[@]}"; do cp -p "$MODEL_DIR/$f" "$WORK/committed/"; done

restore() {
  # The notebook writes to $WORK/fresh here, but put the committed model files back byte for byte in case
  # anything rewrote them, so the git tree is left as it was.
  local f
  for f in "${FILES[@]}"; do
    cmp -s "$WORK/committed/$f" "$MODEL_DIR/$f" || cp -p "$WORK/committed/$f" "$MODEL_DIR/$f"
  done
}
trap restore EXIT

echo "check_model: executing notebook (data in $WORK/data) ..."
start=$(date +%s)
if ! NEXT_EVENT_DATA_DIR="$WORK/data" NEXT_EVENT_MODEL_DIR="$WORK/fresh" \
    "$PY" -m jupyter nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=python3 \
    --ExecutePreprocessor.timeout=600 --output-dir "$WORK" --output executed.ipynb "$NOTEBOOK" \
    >"$WORK/nbconvert.log" 2>&1; then
  tail -n 40 "$WORK/nbconvert.log" >&2
  echo "check_model: FAILED - notebook execution failed (log and executed copy in $WORK)" >&2
  exit 1
fi
echo "check_model: notebook ran in $(( $(date +%s) - start )) s"

for m in "${MODELS[@]}"; do
  echo "check_model: $m"
  if ! "$PY" - "$WORK/committed/$m.json" "$WORK/fresh/$m.json" "$TOLERANCE" <<'PYEOF'
import json, sys
committed, fresh = (json.load(open(p))["metrics"] for p in sys.argv[1:3])
tol = float(sys.argv[3])
bad = []
for key in sorted(set(committed) | set(fresh)):
    a, b = committed.get(key), fresh.get(key)
    ok = a is not None and b is not None and abs(float(a) - float(b)) <= tol
    print(f"  {key:26s} committed {a!s:>10}  fresh {b!s:>10}  {'ok' if ok else 'MISMATCH'}")
    if not ok:
        bad.append(key)
sys.exit(1 if bad else 0)
PYEOF
  then
    echo "check_model: FAILED - re-trained metrics differ from notebooks/model/$m.json by more than" \
         "$TOLERANCE. Fresh models, metadata and executed notebook are in $WORK/fresh and $WORK" \
         "(re-run the notebook in place and commit its outputs if the change is intended)." >&2
    exit 1
  fi
done
restore
trap - EXIT
rm -rf "$WORK"
echo "check_model: OK - metrics match the committed model metadata"
