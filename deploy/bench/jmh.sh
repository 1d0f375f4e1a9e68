#!/usr/bin/env bash
# JMH micro-benchmarks of the hot operators (operators/src/test/java/dev/flinkai/operators/bench/*Benchmark, and
# context/RecentContextsBenchmark beside its package-private class), no cluster.
#   deploy/bench/jmh.sh                       all benchmarks, their own settings (1 fork, 3 x 2 s warmup, 5 x 2 s measured)
#   deploy/bench/jmh.sh --quick               1 fork, 2 x 1 s warmup, 3 x 1 s measured (about 2 minutes in all)
#   deploy/bench/jmh.sh --quick UserContext   only benchmarks whose name matches the regex
#   deploy/bench/jmh.sh Djl -prof gc          anything after the regex goes to JMH as is (here: allocation per op)
#   deploy/bench/jmh.sh --list                list the benchmarks
# Compiles the operators test classes (Maven, offline when the local repository has everything), runs
# org.openjdk.jmh.Main on the test classpath, writes target/bench/jmh.json (+ jmh.log) at the repo root and prints
# the result table. Exit status non-zero when the build or any benchmark fails.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="$ROOT/target/bench"
JSON="$OUT/jmh.json"
LOG="$OUT/jmh.log"
CP_FILE="$ROOT/operators/target/bench-classpath.txt"

quick=0; list=0; regex=""; extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --list) list=1; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) if [[ -z "$regex" && "$1" != -* ]]; then regex="$1"; shift; else extra+=("$1"); shift; fi ;;
  esac
done

cd "$ROOT"
mkdir -p "$OUT"

# 1. Build: schemas + operators up to test-compile (the JMH annotation processor writes META-INF/BenchmarkList into
#    operators/target/test-classes), and the operators test classpath in the same reactor (schemas as target/classes).
mvn_args=(-q -B -pl operators -am test-compile dependency:build-classpath
          -Dmdep.includeScope=test -Dmdep.outputFile="$CP_FILE")
echo "jmh.sh: building (mvn ${mvn_args[*]})" >&2
build_log="$OUT/build.log"
if ! mvn -o "${mvn_args[@]}" >"$build_log" 2>&1; then
  if grep -q 'offline' "$build_log"; then
    echo "jmh.sh: offline build lacks artifacts; retrying online" >&2
    mvn "${mvn_args[@]}" >"$build_log" 2>&1 || { cat "$build_log" >&2; echo "jmh.sh: build failed" >&2; exit 1; }
  else
    cat "$build_log" >&2; echo "jmh.sh: build failed" >&2; exit 1
  fi
fi
[[ -s operators/target/test-classes/META-INF/BenchmarkList ]] \
  || { echo "jmh.sh: operators/target/test-classes/META-INF/BenchmarkList is missing: JMH annotation processing did not run" >&2; exit 1; }
CP="operators/target/test-classes:operators/target/classes:$(cat "$CP_FILE")"

# 2. Run. DJL never downloads an engine; one PyTorch thread per predictor (as in the job). Forks inherit the host
#    JVM's flags; -jvmArgsAppend repeats the DJL ones in case a benchmark sets its own.
djl=(-Dai.djl.offline=true -Dai.djl.pytorch.num_threads=1 -Dai.djl.pytorch.num_interop_threads=1)
jvm=(-Xms1g -Xmx1g "${djl[@]}")
if [[ "$list" == 1 ]]; then
  exec java -cp "$CP" org.openjdk.jmh.Main -l ${regex:+"$regex"}
fi
jmh=(-foe true -rf json -rff "$JSON" -jvmArgsAppend "${djl[*]}")
[[ "$quick" == 1 ]] && jmh+=(-f 1 -wi 2 -w 1s -i 3 -r 1s)
[[ -n "$regex" ]] && jmh+=("$regex")
jmh+=("${extra[@]+"${extra[@]}"}")

cmd=(java "${jvm[@]}" -cp "$CP" org.openjdk.jmh.Main "${jmh[@]}")
echo "jmh.sh: java ${jvm[*]} -cp <operators test classpath> org.openjdk.jmh.Main ${jmh[*]}" >&2
rm -f "$JSON"
set +e
"${cmd[@]}" 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
set -e

# 3. Summary: the notes the benchmarks print (serialized bytes, batch sizes), then the table from the JSON.
echo
echo "==== notes ===="
# A fork's output may share a line with JMH's; a note printed once per benchmark method is shown once.
grep -oh 'NOTE [A-Z][A-Za-z]*[^:]*: .*' "$LOG" | awk '!seen[$0]++' || true
if [[ -s "$JSON" ]] && command -v python3 >/dev/null; then
  echo "==== results ($JSON) ===="
  python3 - "$JSON" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
print(f"{'benchmark':<62} {'mode':>6} {'score':>14} {'error':>12}  unit")
for r in rows:
    name = r["benchmark"].replace("dev.flinkai.operators.bench.", "")
    if r.get("params"):
        name += "(" + ",".join(f"{k}={v}" for k, v in r["params"].items()) + ")"
    m = r["primaryMetric"]
    err = m.get("scoreError")
    err = f"± {err:,.1f}" if isinstance(err, (int, float)) and err == err else ""
    print(f"{name:<62} {r['mode']:>6} {m['score']:>14,.1f} {err:>12}  {m['scoreUnit']}")
    for sec, s in sorted(r.get("secondaryMetrics", {}).items()):
        if "alloc.rate.norm" in sec and isinstance(s.get("score"), (int, float)):
            print(f"{'  ' + sec:<62} {'':>6} {s['score']:>14,.1f} {'':>12}  {s['scoreUnit']}")
PY
fi
[[ "$rc" == 0 ]] || echo "jmh.sh: JMH exited with status $rc" >&2
exit "$rc"
