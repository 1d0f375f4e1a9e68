"""Turns the raw measurements of deploy/bench/run.sh into results.json, results.md and results.png.

usage: /usr/bin/python3 deploy/bench/report.py target/bench/raw target/bench
"""
import glob
import json
import os
import platform
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plot  # noqa: E402

TARGETS = {
    "ours_events_per_cpu_s": (">=", 100_000, "ours >= 100,000 events per TM CPU-second"),
    "ours_over_naive": (">=", 3.0, "ours >= 3x naive (events per CPU-second)"),
    "ours_over_min_limit": (">=", 0.5, "ours >= 50 % of min(limit_kafka, limit_model)"),
    "p99_ms": ("<", 10.0, "p99 < 10 ms at half load, at-least-once"),
    "state_bytes_per_user": ("<", 1024, "< 1 KB of state per user"),
    "remote_over_naive_remote": (">=", 5.0, "remote >= 5x naive_remote (events per CPU-second, TM + model server)"),
    "overload_priority_p99_ms": ("<", 100.0, "priority p99 < 100 ms with the model server overloaded 2x"),
}


def read(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def machine():
    model, mem = None, None
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
            model = m.group(1).strip() if m else None
        with open("/proc/meminfo") as f:
            m = re.search(r"^MemTotal:\s*(\d+) kB", f.read(), re.M)
            mem = round(int(m.group(1)) / 1024 / 1024, 1) if m else None
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu_model": model, "memory_gib": mem, "kernel": platform.release(),
            "arch": platform.machine()}


def ratio(a, b):
    return round(a / b, 3) if a and b else None


def main(raw, out):
    settings = read(os.path.join(raw, "settings.json")) or {}
    throughput = {}
    for path in sorted(glob.glob(os.path.join(raw, "*_p[0-9].json"))):
        run = read(path)
        name = os.path.basename(path)[:-5]
        pipe, par = name.rsplit("_p", 1)
        if pipe == "state" or run is None:
            continue
        throughput.setdefault(pipe, {})[par] = run
    model = read(os.path.join(raw, "limit_model.json")) or {}
    latency = read(os.path.join(raw, "latency.json"))
    latency_low = read(os.path.join(raw, "latency_low.json"))
    state = read(os.path.join(raw, "state.json"))
    overload = read(os.path.join(raw, "overload.json"))

    def best(pipe, key="events_per_cpu_s"):
        vals = [r.get(key) for r in throughput.get(pipe, {}).values() if r.get(key)]
        return max(vals) if vals else None

    def at(pipe, par, key="events_per_s"):
        return throughput.get(pipe, {}).get(str(par), {}).get(key)

    ours, naive, kafka = best("ours"), best("naive"), best("limit_kafka")
    remote, naive_remote = best("remote"), best("naive_remote")
    model_rows = model.get("rows_per_cpu_s")
    limits = [v for v in (kafka, model_rows) if v]
    min_limit = min(limits) if limits else None
    r = {
        "ours_events_per_cpu_s": ours,
        "naive_events_per_cpu_s": naive,
        "limit_kafka_events_per_cpu_s": kafka,
        "limit_model_rows_per_cpu_s": model_rows,
        "ours_events_per_s_p1": at("ours", 1),
        "ours_events_per_s_p2": at("ours", 2),
        "naive_events_per_s_p1": at("naive", 1),
        "naive_events_per_s_p2": at("naive", 2),
        "limit_kafka_events_per_s_p1": at("limit_kafka", 1),
        "limit_kafka_events_per_s_p2": at("limit_kafka", 2),
        "p50_ms": latency and latency.get("p50_ms"),
        "p99_ms": latency and latency.get("p99_ms"),
        "p999_ms": latency and latency.get("p999_ms"),
        "max_ms": latency and latency.get("max_ms"),
        "state_bytes_per_user": state and state.get("bytes_per_user"),
        "state_users": state and state.get("distinct_users"),
        "p50_ms_low_rate": latency_low and latency_low.get("p50_ms"),
        "p99_ms_low_rate": latency_low and latency_low.get("p99_ms"),
        "ours_over_naive": ratio(ours, naive),
        "remote_events_per_cpu_s": remote,
        "naive_remote_events_per_cpu_s": naive_remote,
        "remote_over_naive_remote": ratio(remote, naive_remote),
        "overload_priority_p99_ms": overload and overload.get("priority", {}).get("p99_ms"),
        "overload": overload,
        "min_limit_events_per_cpu_s": min_limit,
        "min_limit_is": None if not min_limit else ("limit_kafka" if min_limit == kafka else "limit_model"),
        "ours_over_min_limit": ratio(ours, min_limit),
        "note": "*_events_per_cpu_s: the best of the measured parallelisms (per run: events out / TaskManager CPU "
                "seconds, utime+stime of its JVM, between the first and the last output record); per-run numbers "
                "under throughput.<pipeline>.<parallelism>. limit_model: rows per CPU-second of the scoring thread.",
        "settings": settings,
        "machine": dict(machine(), java_version=settings.get("java_version")),
        "throughput": throughput,
        "limit_model": model,
        "latency": latency,
        "latency_low_rate": latency_low,
        "state": state,
        "input_topic": read(os.path.join(raw, "input_topic.json")),
        "state_topic": read(os.path.join(raw, "state_topic.json")),
    }
    if state and (state.get("distinct_users") or 0) < 1_000_000:
        r["state_note"] = (f"state measured at {state.get('distinct_users')} users, not 1,000,000 "
                           "(run deploy/bench/run.sh without --quick, or with --state-users 1000000)")
    targets = {}
    for key, (op, target, text) in TARGETS.items():
        v = r.get(key)
        ok = None if v is None else (v >= target if op == ">=" else v < target)
        targets[key] = {"target": target, "op": op, "value": v, "met": ok, "what": text}
    r["targets"] = targets

    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(r, f, indent=2)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(markdown(r))
    plot.plot_all(r, os.path.join(out, "results.png"))


def fmt(v, digits=0):
    if v is None:
        return "–"
    if isinstance(v, float) and digits:
        return f"{v:,.{digits}f}"
    return f"{v:,.0f}" if isinstance(v, (int, float)) else str(v)


def markdown(r):
    s, m = r["settings"], r["machine"]
    lines = [f"## Benchmark ({s.get('mode')}, {s.get('date')})", "",
             f"N = {fmt(s.get('events'))} events of U = {fmt(s.get('users'))} simulated users (Zipf 0.8) in a 4-partition "
             f"topic, read from the earliest offset; delivery {s.get('delivery')}, checkpoints every "
             f"{s.get('checkpoint_interval')}, batch size {s.get('batch_size')}. Machine: {m.get('cores')} cores "
             f"{m.get('cpu_model')}, {m.get('memory_gib')} GiB, {m.get('java_version')}; TaskManager "
             f"{s.get('taskmanager_slots')} slots, {s.get('taskmanager_process_size')}. Commit {s.get('git_commit')}"
             f"{' (+ local changes)' if s.get('git_dirty') else ''}.", "",
             "| pipeline | parallelism | events | wall s | TM CPU s | cores busy | events/s | events per TM CPU-s | fallbacks |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for pipe in plot.PIPELINES + ["remote", "naive_remote"]:
        for par, run in sorted(r["throughput"].get(pipe, {}).items()):
            cpu = fmt(run.get('tm_cpu_s'), 2)
            if run.get("server_cpu_s") is not None:
                cpu += f" + {fmt(run.get('server_cpu_s'), 2)} (server)"
            lines.append(f"| {pipe} | {par} | {fmt(run.get('events'))} | {fmt(run.get('wall_s'), 2)} | "
                         f"{cpu} | {fmt(run.get('tm_cores_busy'), 2)} | "
                         f"{fmt(run.get('events_per_s'))} | **{fmt(run.get('events_per_cpu_s'))}** | "
                         f"{fmt(run.get('fallbacks'))} |")
    lm = r.get("limit_model") or {}
    if lm:
        lines.append(f"| limit_model (DJL only, batch {lm.get('batch_size')}) | 1 thread | {fmt(lm.get('rows'))} rows | "
                     f"{fmt(lm.get('wall_s'), 2)} | {fmt(lm.get('thread_cpu_s'), 2)} (thread) | – | "
                     f"{fmt(lm.get('rows_per_s'))} | **{fmt(lm.get('rows_per_cpu_s'))}** | – |")
        b1 = lm.get("batch_1") or {}
        if b1:
            lines.append(f"| limit_model (DJL only, batch 1) | 1 thread | {fmt(b1.get('rows'))} rows | "
                         f"{fmt(b1.get('wall_s'), 2)} | {fmt(b1.get('thread_cpu_s'), 2)} (thread) | – | "
                         f"{fmt(b1.get('rows_per_s'))} | {fmt(b1.get('rows_per_cpu_s'))} | – |")
    lines.append("")
    lat = r.get("latency")
    if lat:
        lines += [f"Latency of ours (at-least-once, parallelism 1) at {fmt(lat.get('rate_achieved'))} events/s "
                  f"(half of its p1 maximum), {lat.get('warmup_s')} s warm-up excluded, {fmt(lat.get('count'))} "
                  f"predictions over {lat.get('measure_s')} s (missing {fmt(lat.get('missing'))}, fallbacks "
                  f"{fmt(lat.get('fallbacks'))}): p50 **{lat.get('p50_ms')} ms**, p90 {lat.get('p90_ms')} ms, "
                  f"p99 **{lat.get('p99_ms')} ms**, p99.9 **{lat.get('p999_ms')} ms**, max {lat.get('max_ms')} ms "
                  f"(send to receive in the probe's JVM; from the record timestamp `ingestTimeMillis`: p50 "
                  f"{lat['latency_ingest_ts'].get('p50_ms')}, p99 {lat['latency_ingest_ts'].get('p99_ms')} ms).", ""]
    low = r.get("latency_low_rate")
    if low:
        lines += [f"For context, the same at a low fixed rate of {fmt(low.get('rate_achieved'))} events/s: p50 "
                  f"{low.get('p50_ms')} ms, p99 {low.get('p99_ms')} ms, p99.9 {low.get('p999_ms')} ms, max "
                  f"{low.get('max_ms')} ms ({fmt(low.get('count'))} predictions, missing {fmt(low.get('missing'))}).", ""]
    ov = r.get("overload")
    if ov:
        pr, no = ov.get("priority", {}), ov.get("normal", {})
        lines += [f"Overload (at-least-once, the model server computing one request at a time, priority first, "
                  f"{fmt(ov.get('rate_achieved'))} events/s): priority events p50 {pr.get('p50_ms')} ms, p99 "
                  f"**{pr.get('p99_ms')} ms**, {fmt(pr.get('fallbacks'))} of {fmt(pr.get('count'))} not answered by the "
                  f"server; normal events p50 {no.get('p50_ms')} ms, p99 {no.get('p99_ms')} ms, "
                  f"{fmt(no.get('fallbacks'))} of {fmt(no.get('count'))} not answered by the server.", ""]
    st = r.get("state")
    if st:
        lines += [f"State: RocksDB live SST files of the user-context operator after {fmt(st.get('distinct_users'))} "
                  f"distinct users ({st.get('events_per_user', 0):.1f} events per user, uniform), after checkpoint "
                  f"{st.get('checkpoint_id')}: {fmt(st.get('live_sst_bytes'))} bytes = **{fmt(st.get('bytes_per_user'), 1)} "
                  f"bytes per user** (checkpointed state of that operator: {fmt(st.get('checkpoint_state_bytes_user_context'))} "
                  f"bytes; RocksDB estimate of keys: {fmt(st.get('estimate_num_keys'))}).", ""]
        if r.get("state_note"):
            lines += [f"_{r['state_note']}_", ""]
    lines += ["| target | value | met |", "|---|---:|:---:|"]
    for key, t in r["targets"].items():
        v = t["value"]
        shown = "–" if v is None else (f"{v:,.3f}" if isinstance(v, float) and v < 100 else fmt(v))
        lines.append(f"| {t['what']} | {shown} | {'–' if t['met'] is None else ('yes' if t['met'] else '**no**')} |")
    lines += ["", f"ours / naive = {fmt(r.get('ours_over_naive'), 2)}; ours / min(limit_kafka, limit_model) = "
              f"{fmt(r.get('ours_over_min_limit'), 2)} (min is {r.get('min_limit_is')}). Events per CPU-second: best "
              "of the measured parallelisms.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
