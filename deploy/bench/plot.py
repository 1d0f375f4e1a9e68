"""Plots of the end-to-end benchmark (target/bench/results.json, written by deploy/bench/run.sh).

Shared by deploy/bench/report.py (results.png) and notebooks/benchmark_results.ipynb. Only needs matplotlib.
"""
import json
import math

PIPELINES = ["limit_kafka", "naive", "ours"]
COLORS = {"limit_kafka": "#9e9e9e", "naive": "#e07b39", "ours": "#2b6cb0", "limit_model": "#6b8e23"}


def load(path):
    with open(path) as f:
        return json.load(f)


def _throughput_rows(results):
    """(pipeline, parallelism, events/CPU-s, events/s) for every measured run."""
    rows = []
    for pipe in PIPELINES:
        for par, run in sorted(results.get("throughput", {}).get(pipe, {}).items(), key=lambda kv: int(kv[0])):
            rows.append((pipe, int(par), run.get("events_per_cpu_s"), run.get("events_per_s")))
    return rows


def plot_throughput(ax_cpu, ax_wall, results):
    rows = _throughput_rows(results)
    pars = sorted({r[1] for r in rows}) or [1]
    width = 0.8 / len(pars)
    for i, par in enumerate(pars):
        xs, cpu, wall, colors = [], [], [], []
        for j, pipe in enumerate(PIPELINES):
            for r in rows:
                if r[0] == pipe and r[1] == par:
                    xs.append(j + (i - (len(pars) - 1) / 2) * width)
                    cpu.append(r[2] or 0)
                    wall.append(r[3] or 0)
                    colors.append(COLORS[pipe])
        hatch = None if i == 0 else "//"
        b1 = ax_cpu.bar(xs, cpu, width * 0.95, color=colors, hatch=hatch, edgecolor="white", label=f"parallelism {par}")
        b2 = ax_wall.bar(xs, wall, width * 0.95, color=colors, hatch=hatch, edgecolor="white", label=f"parallelism {par}")
        for bars, values in ((b1, cpu), (b2, wall)):
            for bar, v in zip(bars, values):
                bar.axes.annotate(f"{v / 1000:.0f}k", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                                  ha="center", va="bottom", fontsize=8)
    model = results.get("limit_model_rows_per_cpu_s")
    labels = list(PIPELINES)
    if model:
        ax_cpu.bar([len(PIPELINES)], [model], 0.4, color=COLORS["limit_model"])
        ax_cpu.annotate(f"{model / 1e6:.2f}M", (len(PIPELINES), model), ha="center", va="bottom", fontsize=8)
        ax_cpu.set_yscale("log")
        labels.append(f"limit_model\n(batch {results.get('settings', {}).get('batch_size', '?')})")
    target = results.get("targets", {}).get("ours_events_per_cpu_s", {}).get("target")
    if target:
        ax_cpu.axhline(target, color=COLORS["ours"], ls="--", lw=1)
        ax_cpu.annotate(f"target {target / 1000:.0f}k", (len(labels) - 0.6, target), color=COLORS["ours"],
                        fontsize=8, va="bottom", ha="right")
    ax_cpu.set_xticks(range(len(labels)))
    ax_cpu.set_xticklabels(labels)
    ax_cpu.set_ylabel("events per TaskManager CPU-second")
    ax_cpu.set_title("Efficiency (hatched: parallelism 2)")
    ax_wall.set_xticks(range(len(PIPELINES)))
    ax_wall.set_xticklabels(PIPELINES)
    ax_wall.set_ylabel("events per second (wall clock)")
    ax_wall.set_title("Throughput (hatched: parallelism 2)")


def plot_latency(ax, results):
    runs = [(k, results.get(k)) for k in ("latency", "latency_low_rate") if results.get(k)]
    runs = [(k, v) for k, v in runs if v.get("histogram_ms")]
    if not runs:
        ax.text(0.5, 0.5, "no latency run", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    max_x = 1
    for key, lat in runs:
        curve = lat["histogram_ms"]
        # x = 1 / (1 - p): "one in N" on a log axis, so the tail gets room
        xs = [1 / (1 - p / 100) if p < 100 else None for p, _ in curve]
        mx = max(x for x in xs if x) * 2
        max_x = max(max_x, mx)
        xs = [x if x else mx for x in xs]
        ys = [ms for _, ms in curve]
        label = (f"{lat.get('rate_achieved', '?'):,} events/s" + (" (half of p1 max)" if key == "latency" else "")
                 + f", {lat.get('count', 0):,} predictions")
        ax.plot(xs, ys, marker="o", ms=3, color=COLORS["ours"] if key == "latency" else "#38a169", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [(1, "p0"), (2, "p50"), (10, "p90"), (100, "p99"), (1000, "p99.9"), (10000, "p99.99")]
    ax.set_xticks([t for t, _ in ticks if t < max_x])
    ax.set_xticklabels([l for t, l in ticks if t < max_x])
    ax.minorticks_off()
    target = results.get("targets", {}).get("p99_ms", {}).get("target")
    if target:
        ax.axhline(target, color="red", ls="--", lw=1)
        ax.annotate(f"p99 target {target} ms", (1.1, target), color="red", fontsize=8, va="bottom")
    ax.set_ylabel("end-to-end latency, ms (log)")
    ax.set_xlabel("percentile (last point: max)")
    ax.set_title("Latency of ours, at-least-once, parallelism 1")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(True, which="major", alpha=0.3)


def _n(v):
    return f"{v:,}" if isinstance(v, int) else str(v)


def plot_all(results, path=None):
    import matplotlib
    if path:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.2))
    plot_throughput(axes[0], axes[1], results)
    plot_latency(axes[2], results)
    s = results.get("settings", {})
    m = results.get("machine", {})
    state = results.get("state_bytes_per_user")
    fig.suptitle(f"{s.get('mode', '?')} run {s.get('date', '')}: N={_n(s.get('events', '?'))} events, "
                 f"U={_n(s.get('users', '?'))} users, delivery {s.get('delivery', '?')}, batch {s.get('batch_size', '?')}; "
                 f"state {'%.0f' % state if isinstance(state, (int, float)) and not math.isnan(state) else '?'} B/user; "
                 f"{m.get('cores', '?')} cores {m.get('cpu_model', '')}", fontsize=10)
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig
