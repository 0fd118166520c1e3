#!/usr/bin/python3
"""Writes BENCHMARKS.md (and gnuplot SVGs) from the outputs scripts/bench-report collected.

usage: bench/report.py RESULTS_DIR OUTPUT_MD PLOTS_DIR

RESULTS_DIR holds what scripts/bench-report produced: SUITE.json (Google Benchmark JSON from
scripts/bench), budget.tsv (scripts/instruction-budget --out), overhead.md + overhead.tsv
(bench/overhead/run) or overhead.skipped (the reason), and meta.env (machine, date, command,
timings). Only the Python standard library; gnuplot (gnuplot-nox) draws the plots.
"""
import json
import os
import re
import subprocess
import sys

RESULTS, OUTPUT, PLOTS = sys.argv[1:4] if len(sys.argv) == 4 else (None, None, None)
ERRORS = {}  # benchmarks that reported an error, in order (a dict as an ordered set)


def die(message):
    sys.stderr.write(f"bench/report.py: {message}\n")
    sys.exit(1)


def load_meta():
    meta = {}
    with open(os.path.join(RESULTS, "meta.env")) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            meta[key] = value
    return meta


def load_suite(name):
    """Median aggregates of one suite, by run_name; None when the suite did not run."""
    path = os.path.join(RESULTS, f"{name}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        data = json.load(f)
    medians = {}
    for b in data["benchmarks"]:
        if b.get("error_occurred"):  # SkipWithError: no figures, the message goes in the report
            ERRORS.setdefault(f"{name}: {b['run_name']}: {b.get('error_message', 'error')}", None)
            continue
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") == "median":
            medians[b["run_name"]] = b
        elif b.get("run_type") != "aggregate" and b.get("repetitions", 1) == 1:
            medians.setdefault(b["run_name"], b)  # a single run: its own figure
    # A benchmark with an errored repetition has no trustworthy median: drop it (it is listed
    # among the failures instead).
    errored = {b["run_name"] for b in data["benchmarks"] if b.get("error_occurred")}
    medians = {k: v for k, v in medians.items() if k not in errored}
    return {"context": data["context"], "medians": medians}


def find(suite, pattern):
    """The one median whose run_name matches `pattern` (a regex, searched)."""
    if not suite:
        return None
    hits = [b for name, b in suite["medians"].items() if re.search(pattern, name)]
    return hits[0] if len(hits) == 1 else None


def seconds(b, which="real_time"):
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
    return b[which] * scale


def mega(x):
    return f"{x / 1e6:.1f} M" if x is not None else "-"


def fmt(x, digits=2):
    return "-" if x is None else f"{x:.{digits}f}"


def read_tsv(name):
    path = os.path.join(RESULTS, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        lines = [l.rstrip("\n").split("\t") for l in f if l.strip() and not l.startswith("#")]
    header, rows = lines[0], lines[1:]
    return [dict(zip(header, r)) for r in rows]


def number(text):
    """'9.87%' -> 9.87, '2.10x' -> 2.1, '-'/'?' -> None."""
    m = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)", text or "")
    return float(m.group(1)) if m else None


def microseconds(text):
    m = re.match(r"^\s*([0-9.]+)\s*(ns|us|ms|s)\s*$", text or "")
    if not m:
        return None
    return float(m.group(1)) * {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[m.group(2)]


def megabytes(text):
    m = re.match(r"^\s*([0-9.]+)\s*(KiB|MiB|GiB|kB|MB|GB)\s*$", text or "")
    if not m:
        return None
    return float(m.group(1)) * {"KiB": 1024 / 1e6, "MiB": 1048576 / 1e6, "GiB": 1073741824 / 1e6,
                                "kB": 1e-3, "MB": 1.0, "GB": 1e3}[m.group(2)]


def gnuplot(name, script, data):
    """Renders PLOTS/name.svg from a gnuplot script reading `data` (inline, as $data)."""
    os.makedirs(PLOTS, exist_ok=True)
    svg = os.path.join(PLOTS, f"{name}.svg")
    terminal = "svg size 720,420 dynamic enhanced font 'sans,12' background rgb 'white'"
    if os.environ.get("BPFTAPE_PLOT_PNG"):  # preview where no SVG viewer is at hand
        terminal, svg = "pngcairo size 720,420 enhanced font 'sans,10'", svg[:-4] + ".png"
    text = ("$data << EOD\n" + data + "EOD\n"
            f"set terminal {terminal}\n"
            f"set output '{svg}'\n" + script)
    result = subprocess.run(["gnuplot"], input=text, text=True, capture_output=True)
    if result.returncode != 0:
        die(f"gnuplot failed for {name}: {result.stderr.strip()}")
    return os.path.relpath(svg, os.path.dirname(os.path.abspath(OUTPUT)) or ".")


def mark(ok):
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


def main():
    if RESULTS is None:
        die(__doc__.strip().splitlines()[2])
    meta = load_meta()
    suites = {s: load_suite(s) for s in
              ("replay", "simulator", "tape", "tracers", "event_processor", "otlp")}
    budget = read_tsv("budget.tsv")
    overhead = read_tsv("overhead.tsv")
    overhead_md = None
    if os.path.exists(os.path.join(RESULTS, "overhead.md")):
        # The harness prints a title line, the latency floor (when built), the workload table,
        # then the rate table (shown below in its own section): keep all but the rate table,
        # the title as plain text.
        blocks = open(os.path.join(RESULTS, "overhead.md")).read().strip().split("\n\n")
        workloads = next((i for i, b in enumerate(blocks) if b.startswith("| workload")), len(blocks) - 1)
        overhead_md = "\n\n".join([blocks[0].lstrip("# ")] + blocks[1:workloads + 1])
    overhead_skipped = None
    if os.path.exists(os.path.join(RESULTS, "overhead.skipped")):
        overhead_skipped = open(os.path.join(RESULTS, "overhead.skipped")).read().strip()

    out = []
    w = out.append
    w("# Benchmarks\n")
    w(f"Generated by `{meta['command']}` on {meta['date']} in {meta['elapsed']} "
      f"(commit `{meta['commit']}`). Do not edit by hand: rerun the command. How the figures "
      "are made and how to read them: [docs/benchmarks.md](docs/benchmarks.md).\n")
    w("| machine | |")
    w("|---|---|")
    w(f"| CPU | {meta['cpu_model']} ({meta['nproc']} CPUs online) |")
    w(f"| kernel | {meta['kernel']} |")
    w(f"| OS, compiler | {meta['os']}; {meta['compiler']}, {meta['build_type']} |")
    w(f"| load average at start / end | {meta['load_start']} / {meta.get('load_end', '?')} |")
    w("")
    w("Timings are medians of randomly interleaved repetitions "
      f"({meta['repetitions']} x >= {meta['min_time']} s each, `scripts/bench`) on a shared VM: "
      "read ratios measured in the same run, not absolute figures across runs. Instruction "
      "counts (callgrind) are exact and do not depend on load.\n")

    failed_path = os.path.join(RESULTS, "failed.txt")
    failures = [l.strip() for l in open(failed_path)] if os.path.exists(failed_path) else []
    failures += list(ERRORS)
    if failures:
        w("**Failed in this run** (their figures are missing below):\n")
        for line in failures:
            w(f"- {line}")
        w("")

    # ---------------------------------------------------------------- targets (filled below)
    targets = []  # (what, target, measured, ok)

    # ---------------------------------------------------------------- replay
    replay = suites["replay"]
    replay_rows = []
    if replay:
        w("## Replay (full pipeline, one core)\n")
        w("`build/bench/replay_benchmark` under `taskset -c 0`: FileSource -> Sorter -> "
          "EventProcessor -> the four tracers, exactly what `bpftape replay` runs, against "
          "`zstd -d` and libzstd decompressing the same tape's frames. Tapes made by "
          "`bpftape simulate --seed 7` (see the benchmark's header).\n")
        w("| tape | events | tape B/event | pipeline, 1 decode thread | pipeline, 2 threads (same core) "
          "| `bpftape replay` command | `zstd -d` | libzstd | pipeline / `zstd -d` time |")
        w("|---|---|---|---|---|---|---|---|---|")
        for tape in ("syscalls", "mixed"):
            p1 = find(replay, rf"^BM_ReplayPipeline/{tape}/1/")
            p2 = find(replay, rf"^BM_ReplayPipeline/{tape}/2/")
            cmd = find(replay, rf"^BM_ReplayCommand/{tape}/")
            cli = find(replay, rf"^BM_ZstdCliDecompress/{tape}/")
            lib = find(replay, rf"^BM_ZstdInProcess/{tape}/")
            if not (p1 and cli):
                continue
            ratio = seconds(p1) / seconds(cli)
            replay_rows.append((tape, p1["items_per_second"], seconds(p1), seconds(cli), ratio))
            w(f"| {tape} | {p1['events']:.0f} | {fmt(p1['tape_bytes_per_event'])} "
              f"| {mega(p1['items_per_second'])} ev/s ({seconds(p1) * 1e3:.0f} ms) "
              f"| {mega(p2['items_per_second']) + ' ev/s' if p2 else 'failed'} "
              f"| {mega(cmd['items_per_second']) + ' ev/s' if cmd else 'failed'} "
              f"| {seconds(cli) * 1e3:.0f} ms | {seconds(lib) * 1e3 if lib else 0:.0f} ms "
              f"| {ratio:.2f}x |")
        w("")
        if replay_rows:
            data = "".join(f'"{t}" {pt * 1e3:.1f} {zt * 1e3:.1f} {3 * zt * 1e3:.1f}\n'
                           for t, _, pt, zt, _ in replay_rows)
            svg = gnuplot("replay-vs-zstd", """
set title 'Replay of one tape on one core: bpftape pipeline vs zstd -d (lower is better)'
set ylabel 'wall time (ms)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top left
set yrange [0:*]
set grid ytics
plot $data using 2:xtic(1) title 'bpftape replay pipeline' lc rgb '#1f77b4', \
     '' using 3 title 'zstd -d (the floor)' lc rgb '#7f7f7f', \
     '' using 4 title 'target: 3x zstd -d' lc rgb '#dddddd'
""", data)
            w(f"![replay vs zstd]({svg})\n")
        ok_rate = all(r[1] >= 10e6 for r in replay_rows) if replay_rows else None
        ok_ratio = all(r[4] <= 3 for r in replay_rows) if replay_rows else None
        targets.append(("replay, full pipeline, one core", ">= 10 M events/s",
                        ", ".join(f"{t}: {mega(r)} ev/s" for t, r, *_ in replay_rows), ok_rate))
        targets.append(("replay vs `zstd -d` on the same tape", "<= 3x the time",
                        ", ".join(f"{t}: {x:.2f}x" for t, *_, x in replay_rows), ok_ratio))

    # ---------------------------------------------------------------- simulator
    sim = suites["simulator"]
    if sim:
        w("## Simulator\n")
        w("`build/bench/simulator_benchmark`: events generated per second of CPU time, seed 1, "
          "2 s of virtual time per run, rates high enough that generation dominates.\n")
        w("| scenario | events/s generated | virtual s per real s |")
        w("|---|---|---|")
        for name, b in sorted(sim["medians"].items()):
            w(f"| {name.split('/')[1]} | {mega(b['items_per_second'])} | "
              f"{fmt(b.get('virtual_per_real'), 1)} |")
        w("")
        mixed = find(sim, r"^BM_Simulate/mixed$")
        lo = min(b["items_per_second"] for b in sim["medians"].values())
        targets.append(("simulator", ">= 10 M events/s generated",
                        f"mixed: {mega(mixed['items_per_second'])} ev/s (slowest scenario "
                        f"{mega(lo)})" if mixed else "-",
                        mixed["items_per_second"] >= 10e6 if mixed else None))

    # ---------------------------------------------------------------- tape
    tape = suites["tape"]
    storm_bpe = None
    if tape:
        w("## Tape write / read\n")
        w("`build/bench/tape_benchmark`: 2 M synthetic events (a syscall storm, and a mixed "
          "stream), 4096-event batches; read with 1 and 2 decode threads; zstd floor on the "
          "same frames.\n")
        w("| benchmark | events/s | event MB/s (64 B/event) | tape MB/s | tape B/event |")
        w("|---|---|---|---|---|")
        # Throughput benchmarks only; the caller-side flush latency has a table of its own.
        for name, b in sorted(tape["medians"].items()):
            if "items_per_second" not in b:
                continue
            w(f"| {name.replace('/real_time', '')} | {mega(b['items_per_second'])} "
              f"| {b['bytes_per_second'] / 1e6:.0f} | {b['file_MB_per_second']:.0f} "
              f"| {fmt(b['bytes_per_event'])} |")
        w("")
        flush = find(tape, r"^BM_FlushFullFrame")
        if flush:
            w("What the recorder's drain thread pays to close a full events frame with background "
              "compression (`BM_FlushFullFrame`: it hands the encoder to the worker; thread CPU "
              f"time): {flush['cpu_time']:.0f} {flush.get('time_unit', 'ns')} for "
              f"{flush.get('frame_events', 0):.0f} events.\n")
        storm = find(tape, r"^BM_Write/syscall_storm/")
        storm_bpe = storm["bytes_per_event"] if storm else None

    # ---------------------------------------------------------------- tracers + processor
    for key, title, text in (
            ("tracers", "Tracers' aggregations",
             "`build/bench/tracers_benchmark`: each aggregator alone, fed the batches the "
             "pipeline delivers for a seeded simulation (made before timing). `mixed` is all "
             "five workloads; every tracer reads every event of it."),
            ("event_processor", "EventProcessor",
             "`build/bench/event_processor_benchmark`: validate, filter and batch; inputs "
             "generated before timing.")):
        s = suites[key]
        if not s:
            continue
        w(f"## {title}\n")
        w(text + "\n")
        w("| benchmark | events/s (CPU time) | event bytes/s |")
        w("|---|---|---|")
        for name, b in sorted(s["medians"].items()):
            per_s = b.get("items_per_second")
            w(f"| {name} | {mega(per_s)} | "
              f"{b['bytes_per_second'] / 1e9:.2f} GB/s |" if "bytes_per_second" in b else
              f"| {name} | {mega(per_s)} | - |")
        w("")

    otlp = suites["otlp"]
    if otlp:
        w("## OTLP conversion\n")
        w("`build/bench/otlp_benchmark`: spans and metric points from fixed aggregations "
          "(4000 spans, 2000 syscall series, 20 k CPU samples), and the encodings.\n")
        w("| benchmark | time (median) | throughput | bytes/s |")
        w("|---|---|---|---|")
        for name, b in sorted(otlp["medians"].items()):
            # The suite counts what each benchmark makes: spans, metric points or samples.
            unit = next((u for u in ("spans/s", "points/s", "samples/s") if u in b), None)
            rate = f"{mega(b[unit])} {unit}" if unit else "-"
            bps = b.get("bytes_per_second")
            w(f"| {name} | {b['real_time']:.3g} {b['time_unit']} | {rate} "
              f"| {f'{bps / 1e6:.0f} MB/s' if bps else '-'} |")
        w("")

    # ---------------------------------------------------------------- instruction budgets
    if budget:
        w("## Instruction budgets (exact)\n")
        w("`scripts/instruction-budget`: callgrind instructions per event for each stage of a "
          "fixed seeded simulation (what CI checks; fails above +5% of "
          "`bench/instruction_budget.baseline`).\n")
        w("| stage | events | instructions/event | baseline | change |")
        w("|---|---|---|---|---|")
        rows = []
        for r in budget:
            now, old = float(r["instructions_per_event"]), number(r.get("baseline", ""))
            change = f"{(now - old) * 100 / old:+.1f}%" if old else "-"
            rows.append((r["stage"], now))
            w(f"| {r['stage']} | {r['events']} | {now:.1f} | {fmt(old, 1)} | {change} |")
        w("")
        data = "".join(f'"{s.replace("_", " ")}" {v:.1f}\n' for s, v in rows)
        svg = gnuplot("instruction-budget", """
set title 'Instructions per event by stage (callgrind, exact)'
set style data histograms
set style fill solid 0.8 border -1
set style histogram clustered gap 0.5
set xtics rotate by -30
set ylabel 'instructions / event'
set yrange [0:*]
set grid ytics
unset key
plot $data using 2:xtic(1) lc rgb '#2ca02c'
""", data)
        w(f"![instructions per event]({svg})\n")

    # ---------------------------------------------------------------- live overhead
    w("## Live overhead (bench/overhead/run)\n")
    live = {}
    rates = []
    if overhead_md:
        w("`bench/overhead/run` (root, BPF build): each workload's wall time with a tracer "
          "attached system-wide over without, median of the runs, peers measured in the same "
          "run. Cells as the harness prints them:\n")
        w(overhead_md + "\n")
        live = {r["workload"]: r for r in overhead if r["kind"] == "workload"}
        rates = [r for r in overhead if r["kind"] == "rate"]
        storm = live.get("storm")
        if storm:
            rec, bt, pf = (number(storm["slowdown"]), number(storm["bpftrace_slowdown"]),
                           number(storm["perf_slowdown"]))
            w("Peers on the syscall storm (4 M syscalls, every one recorded by bpftape with "
              "its duration; bpftrace only counts per comm; perf records raw enter+exit):\n")
            w("| tracer | slowdown | vs bpftape |")
            w("|---|---|---|")
            w(f"| bpftape record --syscalls | {fmt(rec)}x | 1.00 |")
            if bt:
                w(f"| bpftrace `@[comm] = count()` | {fmt(bt)}x | {bt / rec:.2f} |")
            if pf:
                lost_chunks = storm["perf_lost_chunks"]
                w(f"| perf record raw_syscalls | {fmt(pf)}x | {pf / rec:.2f}"
                  f"{f' (lost {lost_chunks} chunks)' if lost_chunks not in ('0', '') else ''} |")
            w("")
            bars = [("no tracing", 1.0), ("bpftape", rec)]
            if bt:
                bars.append(("bpftrace count", bt))
            if pf:
                bars.append(("perf record", pf))
            data = "".join(f'"{n}" {v:.3f}\n' for n, v in bars if v)
            svg = gnuplot("overhead-peers", """
set title 'Syscall storm (dd bs=1, 4 M syscalls): workload slowdown (lower is better)'
set style data histograms
set style fill solid 0.8 border -1
set style histogram clustered gap 0.5
set ylabel 'wall time / untraced wall time'
set yrange [0:*]
set grid ytics
set arrow from graph 0, first 2.5 to graph 1, first 2.5 nohead dt 2 lc rgb '#d62728'
set label 'target 2.5x' at graph 0.02, first 2.6 tc rgb '#d62728'
unset key
plot $data using 2:xtic(1) lc rgb '#1f77b4'
""", data)
            w(f"![overhead vs peers]({svg})\n")
        if rates:
            w("Cost of recording as the event rate grows: `bpftape record --syscalls -- "
              "bpftape_workload paced 2R R` (2 s of R getpid/s, recorded as the recorder's "
              "command). The workload spins between calls, so its wall time does not move; the "
              "cost is the BPF programs' CPU (run inside its syscalls; every other process's "
              "syscalls run the filter too) plus the recorder's, as % of one CPU over the "
              "recording:\n")
            w("| getpid/s | events recorded | lost | BPF CPU | recorder CPU | latency p99 |")
            w("|---|---|---|---|---|---|")
            for r in rates:
                w(f"| {r['workload']} | {r['events']} | {r['lost']} | {fmt(number(r['bpf_cpu_pct']))}% "
                  f"| {fmt(number(r['recorder_cpu_pct']))}% | {r['latency_p99']} |")
            w("")
            data = "".join(f"{r['workload']} {number(r['bpf_cpu_pct']) or 0} "
                           f"{number(r['recorder_cpu_pct']) or 0}\n" for r in rates)
            svg = gnuplot("overhead-vs-rate", """
set title 'Cost of recording every syscall vs event rate'
set xlabel 'syscalls per second (log scale)'
set ylabel '% of one CPU'
set logscale x
set grid
set key top left
set yrange [0:*]
plot $data using 1:($2+$3) with linespoints lw 2 pt 7 title 'total', \
     '' using 1:2 with linespoints pt 5 title 'BPF programs (in the workload)', \
     '' using 1:3 with linespoints pt 9 title 'recorder process'
""", data)
            w(f"![overhead vs event rate]({svg})\n")
    else:
        w(f"Not run: {overhead_skipped or 'no output'}.\n")

    storm = live.get("storm")
    if storm:
        rec, bt = number(storm["slowdown"]), number(storm["bpftrace_slowdown"])
        lost = number(storm["lost"])
        ok = rec is not None and rec <= 2.5 and lost == 0 and (bt is None or rec < bt)
        targets.append(("live syscall recording, every syscall with duration",
                        "slowdown <= 2.5x, zero drops, below bpftrace counting",
                        f"{fmt(rec)}x, {storm['lost']} lost, bpftrace {fmt(bt)}x", ok))
    else:
        targets.append(("live syscall recording, every syscall with duration",
                        "slowdown <= 2.5x, zero drops, below bpftrace counting", "not run", None))
    bpe_live = number(storm["bytes_per_event"]) if storm else None
    bpe = bpe_live if bpe_live is not None else storm_bpe
    targets.append(("tape size, syscall storm", "<= 4 bytes/event",
                    (f"live storm {fmt(bpe_live)} B/event" if bpe_live is not None else "") +
                    ("; " if bpe_live is not None and storm_bpe else "") +
                    (f"synthetic storm {fmt(storm_bpe)} B/event" if storm_bpe else ""),
                    bpe <= 4 if bpe is not None else None))
    cpu = live.get("cpu")
    if cpu:
        bpf, own, rss = number(cpu["bpf_cpu_pct"]), number(cpu["recorder_cpu_pct"]), megabytes(cpu["rss"])
        total = (bpf or 0) + (own or 0)
        ok = bpf is not None and own is not None and rss is not None and total < 1 and rss < 50
        targets.append(("CPU profiling at 99 Hz", "< 1 % of one CPU, recorder RSS < 50 MB",
                        f"{total:.2f}% (BPF {fmt(bpf)}%, recorder {fmt(own)}%), "
                        f"RSS {cpu['rss']} ({fmt(rss, 1)} MB)", ok))
    else:
        targets.append(("CPU profiling at 99 Hz", "< 1 % of one CPU, recorder RSS < 50 MB",
                        "not run", None))
    paced = live.get("paced")
    if paced:
        p99 = microseconds(paced["latency_p99"])
        floor = {r["workload"]: microseconds(r["latency_p99"]) for r in overhead if r["kind"] == "floor"}
        floor_text = (f" (this machine's floor, bench/latency_floor: {fmt(floor['tick'], 0)}us for a "
                      f"consumer waking every 50us, {fmt(floor['spin'], 0)}us spinning)"
                      if floor.get("tick") is not None and floor.get("spin") is not None else "")
        targets.append(("delivery latency", "p99 < 100 us at 100 k events/s",
                        f"p99 {paced['latency_p99']}{floor_text}",
                        p99 < 100 if p99 is not None else None))
    else:
        targets.append(("delivery latency", "p99 < 100 us at 100 k events/s", "not run", None))

    order = ["replay, full pipeline, one core", "replay vs `zstd -d` on the same tape",
             "tape size, syscall storm", "live syscall recording, every syscall with duration",
             "CPU profiling at 99 Hz", "delivery latency", "simulator"]
    targets.sort(key=lambda t: order.index(t[0]) if t[0] in order else len(order))
    table = ["## Targets (DESIGN.md)\n",
             "| what | target | measured here | |", "|---|---|---|---|"]
    table += [f"| {a} | {b} | {c or '-'} | {mark(d)} |" for a, b, c, d in targets]
    met = sum(1 for t in targets if t[3])
    table.append(f"\n{met} of {len(targets)} met"
                 + (f"; {sum(1 for t in targets if t[3] is None)} not measured in this run"
                    if any(t[3] is None for t in targets) else "") + ".\n")
    # Targets go first: they are what a reader came for.
    first_section = next(i for i, line in enumerate(out) if line.startswith("## "))
    out[first_section:first_section] = table

    with open(OUTPUT, "w") as f:
        f.write("\n".join(out).rstrip() + "\n")


if __name__ == "__main__":
    main()
