"""Writes one section of BENCHMARKS.md from a benchmark's results, leaving the other sections.

    python3 scripts/bench_report.py bench   target/bench/bench.jsonl          BENCHMARKS.md
    python3 scripts/bench_report.py compare target/compare/compare.md       BENCHMARKS.md
    python3 scripts/bench_report.py scale   target/scale                      BENCHMARKS.md
    python3 scripts/bench_report.py live    target/live                       BENCHMARKS.md

A section sits between `<!-- NAME:start -->` and `<!-- NAME:end -->`; it is replaced whole.
"""
import datetime
import json
import os
import platform
import re
import subprocess
import sys


def command_output(*args):
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine():
    cpu = "unknown"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    server = command_output("mariadb", "--version") or command_output("mysql", "--version")
    server = re.sub(r".*Distrib ([^,]+),.*", r"\1", server)
    return (
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores ({cpu}), "
        f"{platform.system()} {platform.release()}, MySQL/MariaDB {server}, {command_output('rustc', '--version')}, "
        f"{command_output('redis-server', '--version').split(' sha=')[0]}"
    )


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "-"


def bench_section(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    ceilings = [r for r in rows if r["kind"] == "ceiling"]
    cold = next((r for r in rows if r["kind"] == "cold_ceiling"), None)
    routes = [r for r in rows if r["kind"] == "route"]
    students = min((r["students"] for r in routes), default=500)
    narrow = [r for r in routes if r["students"] == students]
    wide = [r for r in routes if r["students"] != students]
    one = [c["one_client"] for c in ceilings]
    ceiling = sum(one) / len(one) if one else 0
    best = {route: max((r for r in narrow if r["route"] == route), key=lambda r: r["grades_per_second"], default=None) for route in ("rest", "grpc")}
    rest = best["rest"]["grades_per_second"] if best["rest"] else 0
    grpc = best["grpc"]["grades_per_second"] if best["grpc"] else 0
    out = []
    out.append(f"Written by `just bench` ({machine()}). wrk and every service share the machine's cores.\n")
    out.append("### Ratios (one run)\n")
    out.append("| measure | ratio | target |")
    out.append("|---|---|---|")
    out.append(f"| rest route (best of 8/64/256 connections) / database batched-insert rate (1 client, mean of {len(one)}) | **{ratio(rest, ceiling)}** | ≥ 0.50 |")
    out.append(f"| grpc route / rest route (best of each) | **{ratio(grpc, rest)}** | ≥ 0.85 |")
    if wide:
        w = max(wide, key=lambda r: r["grades_per_second"])
        out.append(f"| rest route with {w['students']:,} students / with {students:,} (64 connections) | {ratio(w['grades_per_second'], next((r['grades_per_second'] for r in narrow if r['route'] == 'rest' and r['connections'] == 64), 0))} | |")
    out.append("")
    out.append("### The database's own rate\n")
    out.append("256-row `INSERT` transactions into the migrated `grades` table from the `mariadb` client, SQL generated beforehand; "
               "50 transactions of warm-up, then 600 from one client and 4 × 150 from four at once.\n")
    out.append("| measured | 1 client (rows/s) | 4 clients (rows/s) |")
    out.append("|---|---|---|")
    for c in ceilings:
        out.append(f"| {c['label']} | {c['one_client']:,} | {c['four_clients']:,} |")
    if cold:
        spread = f"{min(one):,}-{max(one):,}" if one else "-"
        out.append(f"\nMeasured the way the previous `just bench` did (200 transactions into a freshly created table, no warm-up, "
                   f"timed with the client's start-up), in this run: **{cold['rows_per_second']:,} rows/s**, against {spread} rows/s "
                   f"for the warm measurements above. The server's rate moves with what it did just before (pages of the last load "
                   f"still being flushed, the other core busy), so a single short measurement can land anywhere in that range or "
                   f"below it: the ceiling is measured around every route here, and the ratio uses their mean.\n")
    out.append("### The routes (closed loop: wrk, POST /grades, the Locust payload)\n")
    out.append(f"Student pool {students:,} (the Locust default: a realistic faculty) unless stated. *Batch*: grades per commit. "
               "*Lag at end*: grades committed but not yet folded into the summaries when the load stopped (terms / students projection); "
               "*caught up*: seconds from then until both had folded everything. *Cores*: average CPU of each process during the load.\n")
    out.append("| route | students | connections | grades/s | p50 ms | p99 ms | non-2xx | batch | lag at end | caught up s | cores |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in routes:
        cores = ", ".join(f"{n} {c}" for n, c in sorted(r["cores"].items(), key=lambda kv: -kv[1]))
        batch = f"{r['mean_batch']:.1f}" if r["mean_batch"] else "-"
        lag = f"{r['lag_at_end_ids']['terms']:,} / {r['lag_at_end_ids']['students']:,}"
        caught = r["caught_up_seconds"] if r["caught_up_seconds"] is not None else "> 120"
        p50 = f"{r['p50_ms']:.2f}" if r["p50_ms"] is not None else "-"
        p99 = f"{r['p99_ms']:.2f}" if r["p99_ms"] is not None else "-"
        out.append(f"| {r['route']} | {r['students']:,} | {r['connections']} | {r['grades_per_second']:,.0f} | {p50} | {p99} | "
                   f"{r['non_2xx'] + r['socket_errors']} | {batch} | {lag} | {caught} | {cores} |")
    out.append("\nCommand: `just bench` (BENCH_SECONDS, BENCH_STUDENTS to change the load).")
    return "\n".join(out) + "\n"


def scale_section(folder):
    """`just scale`: ingest against an empty and a big database, the live state deleted under
    load, and the dashboard endpoints on the big one."""
    meta = json.load(open(os.path.join(folder, "meta.json")))
    ingest = {d: json.load(open(os.path.join(folder, f"ingest-{d}.json"))) for d in (meta["empty"], meta["big"])}
    flush = {r["db"]: r for r in map(json.loads, open(os.path.join(folder, "flush.jsonl")))}
    endpoints = [json.loads(l) for l in open(os.path.join(folder, "endpoints.jsonl"))]
    empty, big = ingest[meta["empty"]]["total"], ingest[meta["big"]]["total"]
    out = [f"Written by `just scale` ({machine()}). The big database: {meta['grades']:,} grades from `just seed` "
           f"(its summaries folded by the projector's own statements), MariaDB with its default 128 MiB buffer pool.\n",
           "### Ratios (one run)\n", "| measure | ratio | target |", "|---|---|---|",
           f"| ingest p99 at {meta['rate']} grades/s: {meta['grades']:,} grades / empty database | **{ratio(big['p99_ms'], empty['p99_ms'])}** | ≤ 2 |",
           "\n### Ingest (rest-api, open loop, 32 connections)\n",
           "| database | grades/s | p50 ms | p99 ms | errors | rest-api RSS peak MiB | live state back after deletion s | errors while it was gone | live total = COUNT(*) after |",
           "|---|---|---|---|---|---|---|---|---|"]
    for db, result in ingest.items():
        t, f = result["total"], flush[db]
        back = "-" if f["live_back_seconds"] is None else f"{f['live_back_seconds']:.2f}"
        out.append(f"| {db} | {t['throughput_per_sec']:,.0f} | {t['p50_ms']:.2f} | {t['p99_ms']:.2f} | {sum(t['errors'].values())} | "
                   f"{result['processes']['rest-api']['rss_peak_mib']:.0f} | {back} | {f['errors']} | "
                   f"{'yes' if f['live_total'] == f['grades'] else 'NO: %d vs %d' % (f['live_total'], f['grades'])} |")
    out += [f"\n### Dashboard endpoints at {meta['grades']:,} grades (realtime, one request at a time, {meta['requests']} each)\n",
            "| endpoint | status | p50 ms | p99 ms | max ms |", "|---|---|---|---|---|"]
    for e in endpoints:
        out.append(f"| `{e['path']}` | {e['status']} | {e['p50_ms']} | {e['p99_ms']} | {e['max_ms']} |")
    out.append("\nCommand: `just scale` (SCALE_DB, SCALE_RATE, SCALE_SECONDS, SCALE_REQUESTS).")
    return "\n".join(out) + "\n"


def live_section(folder):
    """`just live`: ingest-to-browser latency per feed, and realtime's CPU and memory with many
    clients, idle and under load; every run listed (the machine is shared)."""
    meta = json.load(open(os.path.join(folder, "meta.json")))
    rows = [json.loads(l) for l in open(os.path.join(folder, "live.jsonl")) if l.strip()]
    latency = [r for r in rows if r["kind"] == "latency"]
    held = [r for r in rows if r["kind"] in ("idle", "loaded")]

    def ms(value):
        return "-" if value is None else f"{value:,.1f}"

    def noise(r):
        return f"{r['loadavg']:.1f} / {r['compilers']}"

    runs = sorted({r["run"] for r in rows})
    out = [f"Written by `just live` ({machine()}), runs {', '.join(map(str, runs))}. One rest-api (with the projector) and one realtime, natively; "
           "the generator, the Socket.IO clients and the services share the machine's cores, which other engineers' "
           "builds and tests were also using (*load / compilers*: the 1-minute load average and the compiler "
           "processes running when the measurement started).\n",
           "### Ingest-to-browser latency\n",
           f"Open-loop Poisson POSTs to rest-api ({meta['seconds']} s measured after 3 s of warm-up, 64 keep-alive "
           "connections, `scripts/live_probe.mjs`). For every grade answered 201: from that 201's arrival at the "
           "generator to the first Socket.IO push carrying its id at a connected client (socket.io-client over "
           "WebSocket, same process, same clock). *sampled*: the `recent_grades` feed the dashboard shows (at most "
           "20 grades a push, about 10 pushes a second); *all_grades*: a client that sent `subscribe_all_grades`. "
           "*Pushed*: share of the grades that reached the client at all. The sampled feed's percentiles cover only the "
           "grades it pushed, the newest of each flush, which waited least; `all_grades` covers every grade, so it is the "
           "ingest-to-browser latency to hold against a goal. Its floor is the pipeline's cadence: a grade waits for the "
           "next terms fold (every 50 ms), the fold itself, and the next 100 ms flush. *Ingest p99*: POST latency from the "
           "intended send time (open loop): when it climbs, the machine or the database was saturated, and the live path "
           "inherits that delay before its own.\n",
           "| run | offered/s | stored/s | feed | pushed | p50 ms | p99 ms | max ms | ingest p99 ms | load / compilers |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in latency:
        res = r["result"]
        errors = sum(res["errors"].values())
        stored = f"{res['stored_rate']:,.0f}" + (f" ({errors} errors)" if errors else "")
        for feed in ("sampled", "all_grades"):
            f = res[feed]
            extra = ""
            if feed == "all_grades" and (f["duplicates"] or f["out_of_order"]):
                extra = f" ({f['duplicates']} twice, {f['out_of_order']} out of order)"
            out.append(f"| {r['run']} | {res['offered_rate']:,.0f} | {stored} | {feed} | {f['share']:.1f} %{extra} | "
                       f"{ms(f['p50_ms'])} | {ms(f['p99_ms'])} | {ms(f['max_ms'])} | {ms(res['ingest']['p99_ms'])} | {noise(r)} |")
    out += ["\n### realtime's CPU and memory\n",
            f"{meta['clients']} Socket.IO clients like the dashboard (WebSocket, one `subscribe_students` each, the sampled "
            f"feed), realtime's CPU from `/proc/PID/stat` over {meta['seconds']} s (% of one core) and its RSS; *loaded*: "
            f"while `grades-bench run` offered {meta['load_rate']:,} grades/s to rest-api for the whole window and 3 s on either side. "
            "*Stored/s in the window*: the growth of the `total` the clients were pushed, i.e. what the route actually stored "
            "and the projector folded while CPU was measured; *answered*: grades-bench's 201s per second over its run "
            "(requests queued behind an overloaded route are still answered, late) and their p99 from the intended send time.\n",
            "| run | state | stored/s in the window | answered/s (p99) | realtime CPU % of a core | RSS MiB (peak) | pushes per client/s | grades per client/s | terms lag at end | load / compilers |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for r in held:
        res = r["result"]
        window = "-" if res.get("stored_per_second") is None else f"{res['stored_per_second']:,.0f}"
        if r["kind"] == "loaded":
            load = r["load"]
            answered = f"{load['stored_rate']:,} ({load['p99_ms']:,.0f} ms" + (f", {load['errors']} errors)" if load["errors"] else ")")
            lag = f"{r['terms_lag_at_end']:,.0f}" if r["terms_lag_at_end"] is not None else "-"
        else:
            answered, lag = "-", "-"
        out.append(f"| {r['run']} | {r['kind']} | {window} | {answered} | **{res['cpu_percent_of_one_core']:.1f}** | {res['rss_mib']:.0f} ({res['rss_peak_mib']:.0f}) | "
                   f"{res['pushes_per_client_per_second']:.1f} | {res['grades_per_client_per_second']:.1f} | {lag} | {noise(r)} |")
    out.append("\nCommand: `just live` (LIVE_RATES, LIVE_LOAD_RATE, LIVE_CLIENTS, LIVE_SECONDS, LIVE_RUNS).")
    return "\n".join(out) + "\n"


def splice(report, name, section):
    text = open(report).read() if os.path.exists(report) else "# Benchmarks\n"
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{section}{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    open(report, "w").write(text)


if __name__ == "__main__":
    kind, source, report = sys.argv[1:4]
    if kind == "bench":
        splice(report, "bench", bench_section(source))
    elif kind == "compare":
        splice(report, "compare", f"Written by `just compare` ({machine()}).\n\n" + open(source).read())
    elif kind == "scale":
        splice(report, "scale", scale_section(source))
    elif kind == "live":
        splice(report, "live", live_section(source))
    else:
        sys.exit(f"unknown section {kind!r}: bench, compare, scale or live")
