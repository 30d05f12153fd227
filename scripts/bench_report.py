"""The one writer of BENCHMARKS.md: each benchmark's section from the results its script left,
leaving the other sections as they are.

    python3 scripts/bench_report.py bench   target/bench/bench.jsonl  BENCHMARKS.md
    python3 scripts/bench_report.py compare target/compare            BENCHMARKS.md
    python3 scripts/bench_report.py scale   target/scale              BENCHMARKS.md
    python3 scripts/bench_report.py live    target/live               BENCHMARKS.md
    python3 scripts/bench_report.py protocol target/protocol         BENCHMARKS.md
    python3 scripts/bench_report.py crosscheck target/crosscheck     BENCHMARKS.md
    python3 scripts/bench_report.py machine        the machine, as the sections name it
    python3 scripts/bench_report.py summary FILE   one line about a `grades-bench run` result

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
    """Cores, CPU, kernel, and the versions of the database, the compiler and Redis."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    # The server the benchmark used (benchmark.sh asks it); else the local client's version.
    server = os.environ.get("BENCH_SERVER_VERSION") or re.sub(
        r".*Distrib ([^,]+),.*", r"\1", command_output("mariadb", "--version") or command_output("mysql", "--version")
    )
    kind = "MariaDB" if "MariaDB" in server else "MySQL"
    return (
        f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, {kind} {server}, "
        f"{command_output('rustc', '--version')}, {command_output('redis-server', '--version').split(' sha=')[0]}"
    )


def server_suffix():
    """`-mysql` when the benchmark's server (BENCH_SERVER_VERSION, from benchmark.sh) is MySQL."""
    server = os.environ.get("BENCH_SERVER_VERSION", "MariaDB")
    return "" if "MariaDB" in server else "-mysql"


def written_by(recipe):
    """The opening of a section: what wrote it, when, and on what."""
    return f"Written by `just {recipe}` ({datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {machine()})"


def read_json(path):
    with open(path) as file:
        return json.load(file)


def read_lines(path):
    """A file of one JSON object a line."""
    with open(path) as file:
        return [json.loads(line) for line in file if line.strip()]


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "-"


def errors(total):
    """Failed requests of a `grades-bench` result's total, whatever the kind."""
    return sum(total["errors"].values())


def summary_line(path):
    """One line about a `grades-bench run` result: rate, latency, errors, memory of each process."""
    result = read_json(path)
    total = result["total"]
    memory = ", ".join(f"{name} {usage['rss_peak_mib']:.0f}" for name, usage in result["processes"].items())
    return (
        f"{total['throughput_per_sec']:.0f}/s p50 {total['p50_ms']:.2f} ms p99 {total['p99_ms']:.2f} ms "
        f"errors {errors(total)}; RSS peak MiB: {memory}"
    )


# ---------------------------------------------------------------- just bench

WRK_LATENCY = r"^\s*{}\s+([\d.]+)(us|ms|s)\s*$"


def wrk_result(text):
    """grades/s, p50 and p99 (ms), non-2xx answers and socket errors from wrk's `--latency` output."""

    def latency(label):
        match = re.search(WRK_LATENCY.format(re.escape(label)), text, re.M)
        if not match:
            return None
        value, unit = float(match.group(1)), match.group(2)
        return {"us": value / 1000, "ms": value, "s": value * 1000}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {
        "grades_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "p50_ms": latency("50%"),
        "p99_ms": latency("99%"),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(int(count) for count in socket.groups()) if socket else 0,
    }


def route_run(record):
    """A `route` record of bench.jsonl (the raw figures bench.sh took) as a row of the routes table."""
    with open(record["wrk"]) as wrk:
        row = {"route": record["route"], "connections": record["connections"], "students": record["students"]}
        row.update(wrk_result(wrk.read()))
    # Metric values as /metrics printed them; a metric not printed at all is taken as 0.
    metric = {name: [float(value or 0) for value in values] for name, values in record["metrics"].items()}
    batches = metric["grades_writer_batch_grades_count"][1] - metric["grades_writer_batch_grades_count"][0]
    batched = metric["grades_writer_batch_grades_sum"][1] - metric["grades_writer_batch_grades_sum"][0]
    row["mean_batch"] = batched / batches if batches else None
    row["lag_at_end_ids"] = {"terms": int(metric["lag_terms"][0]), "students": int(metric["lag_students"][0])}
    row["caught_up_seconds"] = record["caught_up_seconds"]
    row["cores"] = {
        name: round(usage["cores"], 2) for name, usage in read_json(record["watch"]).items() if usage["cpu_seconds"] > 0
    }
    return row


def bench_section(path):
    rows = read_lines(path)
    ceilings = [r for r in rows if r["kind"] == "ceiling"]
    cold = next((r for r in rows if r["kind"] == "cold_ceiling"), None)
    routes = [route_run(r) for r in rows if r["kind"] == "route"]
    students = min((r["students"] for r in routes), default=500)
    narrow = [r for r in routes if r["students"] == students]
    wide = [r for r in routes if r["students"] != students]
    one = [c["one_client"] for c in ceilings]
    ceiling = sum(one) / len(one) if one else 0
    best = {
        route: max((r for r in narrow if r["route"] == route), key=lambda r: r["grades_per_second"], default=None)
        for route in ("rest", "grpc")
    }
    rest = best["rest"]["grades_per_second"] if best["rest"] else 0
    grpc = best["grpc"]["grades_per_second"] if best["grpc"] else 0
    out = [
        f"{written_by('bench')}. wrk and every service share the machine's cores.\n",
        "### Ratios (one run)\n",
        "| measure | ratio | target |",
        "|---|---|---|",
        f"| rest route (best of 8/64/256 connections) / database batched-insert rate (1 client, mean of {len(one)}) "
        f"| **{ratio(rest, ceiling)}** | ≥ 0.50 |",
        f"| grpc route / rest route (best of each) | **{ratio(grpc, rest)}** | ≥ 0.85 |",
    ]
    if wide:
        w = max(wide, key=lambda r: r["grades_per_second"])
        narrow_64 = next((r["grades_per_second"] for r in narrow if r["route"] == "rest" and r["connections"] == 64), 0)
        out.append(
            f"| rest route with {w['students']:,} students / with {students:,} (64 connections) "
            f"| {ratio(w['grades_per_second'], narrow_64)} | |"
        )
    out += [
        "",
        "### The database's own rate\n",
        "256-row `INSERT` transactions into the migrated `grades` table from the `mariadb` client, SQL generated "
        "beforehand; 50 transactions of warm-up, then 600 from one client and 4 × 150 from four at once.\n",
        "| measured | 1 client (rows/s) | 4 clients (rows/s) |",
        "|---|---|---|",
    ]
    for c in ceilings:
        out.append(f"| {c['label']} | {c['one_client']:,} | {c['four_clients']:,} |")
    if cold:
        spread = f"{min(one):,}-{max(one):,}" if one else "-"
        out.append(
            f"\nMeasured the way the previous `just bench` did (200 transactions into a freshly created table, "
            f"no warm-up, timed with the client's start-up), in this run: **{cold['rows_per_second']:,} rows/s**, "
            f"against {spread} rows/s for the warm measurements above. The server's rate moves with what it did "
            f"just before (pages of the last load still being flushed, the other core busy), so a single short "
            f"measurement can land anywhere in that range or below it: the ceiling is measured around every route "
            f"here, and the ratio uses their mean.\n"
        )
    out += [
        "### The routes (closed loop: wrk, POST /grades, the Locust payload)\n",
        f"Student pool {students:,} (the Locust default: a realistic faculty) unless stated. *Batch*: grades per "
        "commit. *Lag at end*: grades committed but not yet folded into the summaries when the load stopped "
        "(terms / students projection); *caught up*: seconds from then until both had folded everything. "
        "*Cores*: average CPU of each process during the load.\n",
        "| route | students | connections | grades/s | p50 ms | p99 ms | non-2xx | batch | lag at end | caught up s "
        "| cores |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in routes:
        cores = ", ".join(f"{n} {c}" for n, c in sorted(r["cores"].items(), key=lambda kv: -kv[1]))
        batch = f"{r['mean_batch']:.1f}" if r["mean_batch"] else "-"
        lag = f"{r['lag_at_end_ids']['terms']:,} / {r['lag_at_end_ids']['students']:,}"
        caught = r["caught_up_seconds"] if r["caught_up_seconds"] is not None else "> 120"
        p50 = f"{r['p50_ms']:.2f}" if r["p50_ms"] is not None else "-"
        p99 = f"{r['p99_ms']:.2f}" if r["p99_ms"] is not None else "-"
        out.append(
            f"| {r['route']} | {r['students']:,} | {r['connections']} | {r['grades_per_second']:,.0f} | {p50} | {p99} "
            f"| {r['non_2xx'] + r['socket_errors']} | {batch} | {lag} | {caught} | {cores} |"
        )
    out.append("\nCommand: `just bench` (BENCH_SECONDS, BENCH_STUDENTS to change the load).")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- just compare

COMPARE_METHOD = """
![p50 and p99 against offered rate, per route](docs/compare.svg)

**How coordinated omission is handled.** A closed-loop tool (wrk, Locust's default users) sends
the next request only when the previous one returns, so a server that stalls also stalls the
generator: the requests that *would* have been sent during the stall are never sent, and the
stall shows up as one slow request instead of hundreds. `grades-bench` is open loop: it draws a
Poisson schedule at the offered rate before sending anything and keeps to it whatever the server
does (new connections are opened while the others are busy), and it measures each request from
its *intended* send time. A stall therefore delays every request scheduled behind it, and the
percentiles show it, as wrk2 does. Latencies go into HDR histograms (1 µs to 60 s, 3 significant
digits). A step counts as held when p99 ≤ the SLO, errors ≤ 0.1 % and ≥ 95 % of the offered rate
was served; the generator shares the machine's cores with the services it measures.

Command: `just compare` (COMPARE_SECONDS, COMPARE_SLO_MS, COMPARE_START, COMPARE_FACTOR, BENCH_STUDENTS).
"""


def thousands(value):
    return f"{max(value, 0.0):,.0f}"


def compare_tables(reports):
    """`grades-bench step` results (the first route is the one the others are held against) as the
    maximum sustainable throughput per route, then every step."""
    if not reports:
        return ""
    first = reports[0]
    base = first["max_sustainable"] or 0.0
    out = [
        f"Maximum sustainable throughput: the highest offered rate whose p99 stayed at or under "
        f"{first['slo_p99_ms']:g} ms with under 0.1 % errors and at least 95 % of the offered rate served; a rate "
        f"that fails is tried once more, and fails only if it fails twice (student pool: {first['students']}).\n",
        f"| route | max sustainable grades/s | vs {first['label']} | p50 at half of it | p99 at half of it "
        "| CPU-seconds per 1,000 grades (at half) | RSS MiB idle → peak |",
        "|---|---|---|---|---|---|---|",
    ]
    for report in reports:
        maximum = report["max_sustainable"] or 0.0
        vs = f"{maximum / base:.2f}" if base > 0 else "-"
        half = report["half_load"]
        if half:
            ok = max(half["total"]["ok"], 1)
            # By name, as grades-bench keeps them.
            busy = {name: usage for name, usage in sorted(half["processes"].items()) if usage["cpu_seconds"] > 0}
            cpu = ", ".join(f"{name} {usage['cpu_seconds'] / ok * 1000:.3f}" for name, usage in busy.items())
            rss = ", ".join(
                f"{name} {report['rss_idle_mib'].get(name, usage['rss_before_mib']):.0f} → {usage['rss_peak_mib']:.0f}"
                for name, usage in busy.items()
            )
            p50, p99 = f"{half['total']['p50_ms']:.2f} ms", f"{half['total']['p99_ms']:.2f} ms"
        else:
            p50 = p99 = cpu = rss = "-"
        out.append(f"| {report['label']} | {thousands(maximum)} | {vs} | {p50} | {p99} | {cpu} | {rss} |")
    out += [
        "\nEvery step (open loop, Poisson arrivals, latency from the intended send time):\n",
        "| route | offered/s | served/s | p50 ms | p99 ms | p99.9 ms | max ms | errors | held |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for report in reports:
        for step in report["steps"]:
            t = step["result"]["total"]
            held = "yes" if step["held"] else f"no: {step['reason'] or ''}"
            out.append(
                f"| {report['label']} | {thousands(step['rate'])} | {thousands(t['throughput_per_sec'])} "
                f"| {t['p50_ms']:.2f} | {t['p99_ms']:.2f} | {t['p999_ms']:.2f} | {t['max_ms']:.1f} | {errors(t)} "
                f"| {held} |"
            )
    return "\n".join(out) + "\n"


def compare_section(folder):
    """`just compare`: the step results of the routes meta.json names, in its order."""
    meta = read_json(os.path.join(folder, "meta.json"))
    reports = [read_json(os.path.join(folder, f"{route}.json")) for route in meta["routes"]]
    return f"{written_by('compare')}.\n\n" + compare_tables(reports) + COMPARE_METHOD


# ---------------------------------------------------------------- just scale


OBJECTIVE_UNDER_READERS_MS = 50


def server_kind(meta):
    """`mariadb` or `mysql`: the big database's server, which names the report's section."""
    return "mariadb" if "MariaDB" in meta["server_version"] else "mysql"


def scale_section(folder):
    """`just scale`: ingest against an empty and a big database, the live state deleted under
    load, and the dashboard endpoints on the big one, one reader and many at a time. Its section
    is named after the server kind, so MariaDB's and MySQL's figures stand side by side."""
    meta = read_json(os.path.join(folder, "meta.json"))
    ingest = {d: read_json(os.path.join(folder, f"ingest-{d}.json")) for d in (meta["empty"], meta["big"])}
    flush = {r["db"]: r for r in read_lines(os.path.join(folder, "flush.jsonl"))}
    endpoints = read_lines(os.path.join(folder, "endpoints.jsonl"))
    by_readers = {}
    for e in endpoints:
        by_readers.setdefault(e.get("readers", 1), {})[e["path"]] = e
    empty, big = ingest[meta["empty"]]["total"], ingest[meta["big"]]["total"]
    pool_gib = meta["buffer_pool_bytes"] / 2**30
    out = [
        f"{written_by('scale')}. The big database: {meta['grades']:,} grades from `just seed` and "
        f"{meta['idempotency_keys']:,} idempotency keys, {meta['disk_bytes'] / 2**30:.1f} GiB of tables and "
        f"indexes, on {meta['server_version']} with a {pool_gib:g} GiB buffer pool.\n",
        "### Ratios (one run)\n",
        "| measure | ratio | target |",
        "|---|---|---|",
        f"| ingest p99 at {meta['rate']} grades/s: {meta['grades']:,} grades / empty database "
        f"| **{ratio(big['p99_ms'], empty['p99_ms'])}** | ≤ 2 |",
    ]
    for readers, results in sorted(by_readers.items()):
        if readers == 1:
            continue
        worst = max(results.values(), key=lambda e: e["p99_ms"])
        out.append(
            f"| slowest endpoint's p99 under {readers} readers / {OBJECTIVE_UNDER_READERS_MS} ms "
            f"(`{worst['path']}`, {worst['p99_ms']} ms) | **{worst['p99_ms'] / OBJECTIVE_UNDER_READERS_MS:.2f}** "
            f"| {'≤ 1' if readers == 16 else ''} |"
        )
    out += [
        "\n### Ingest (rest-api, open loop, 32 connections)\n",
        "| database | grades/s | p50 ms | p99 ms | errors | rest-api RSS peak MiB | live state back after deletion s "
        "| errors while it was gone | live total = COUNT(*) after |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for db, result in ingest.items():
        t, f = result["total"], flush[db]
        back = "-" if f["live_back_seconds"] is None else f"{f['live_back_seconds']:.2f}"
        equal = "yes" if f["live_total"] == f["grades"] else f"NO: {f['live_total']} vs {f['grades']}"
        out.append(
            f"| {db} | {t['throughput_per_sec']:,.0f} | {t['p50_ms']:.2f} | {t['p99_ms']:.2f} | {errors(t)} | "
            f"{result['processes']['rest-api']['rss_peak_mib']:.0f} | {back} | "
            f"{errors(read_json(f['load'])['total'])} | {equal} |"
        )
    many = [r for r in sorted(by_readers) if r != 1]
    out += [
        f"\n### Dashboard endpoints at {meta['grades']:,} grades (realtime)\n",
        f"*1 reader*: {meta['requests']} requests one at a time. *N readers*: N keep-alive connections at once "
        f"for {meta['read_seconds']:g} s, each sending its next request when the last is answered (closed loop, "
        "`oha -c N`); requests/s is what realtime and the database served on the machine's two cores.\n",
        "| endpoint | status | 1 reader p50 ms | p99 ms | "
        + " | ".join(f"{r} readers p50 ms | p99 ms | requests/s" for r in many)
        + " |",
        "|---|---|---|---|" + "---|---|---|" * len(many),
    ]
    for path, e in by_readers.get(1, {}).items():
        cells = [f"`{path}`", str(e["status"]), str(e["p50_ms"]), str(e["p99_ms"])]
        for r in many:
            c = by_readers[r].get(path)
            cells += [str(c["p50_ms"]), f"**{c['p99_ms']}**", f"{c['per_second']:,.0f}"] if c else ["-"] * 3
        out.append("| " + " | ".join(cells) + " |")
    out.append(
        "\nCommand: `just scale` (SCALE_DB, SCALE_RATE, SCALE_SECONDS, SCALE_REQUESTS, SCALE_READERS, "
        "SCALE_READ_SECONDS, MYSQL_SERVER_URL)."
    )
    return f"scale-{server_kind(meta)}", "\n".join(out) + "\n"


# ---------------------------------------------------------------- just live


def live_section(folder):
    """`just live`: ingest-to-browser latency per feed, and realtime's CPU and memory with many
    clients, idle and under load; every run listed (the machine is shared)."""
    meta = read_json(os.path.join(folder, "meta.json"))
    rows = read_lines(os.path.join(folder, "live.jsonl"))
    latency = [r for r in rows if r["kind"] == "latency"]
    held = [r for r in rows if r["kind"] in ("idle", "loaded")]

    def ms(value):
        return "-" if value is None else f"{value:,.1f}"

    def noise(r):
        return f"{r['loadavg']:.1f} / {r['compilers']}"

    runs = sorted({r["run"] for r in rows})
    out = [
        f"{written_by('live')}, runs {', '.join(map(str, runs))}. One rest-api (with the projector) and one "
        "realtime, natively; the generator, the Socket.IO clients and the services share the machine's cores, which "
        "other engineers' builds and tests were also using (*load / compilers*: the 1-minute load average and the "
        "compiler processes running when the measurement started).\n",
        "### Ingest-to-browser latency\n",
        f"Open-loop Poisson POSTs to rest-api ({meta['seconds']} s measured after 3 s of warm-up, 64 keep-alive "
        "connections, `frontend/scripts/live_probe.mjs`). For every grade answered 201: from that 201's arrival at the "
        "generator to the first Socket.IO push carrying its id at a connected client (socket.io-client over "
        "WebSocket, same process, same clock). *sampled*: the `recent_grades` feed the dashboard shows (at most "
        "20 grades a push, about 10 pushes a second); *all_grades*: a client that sent `subscribe_all_grades`. "
        "*Pushed*: share of the grades that reached the client at all. The sampled feed's percentiles cover only "
        "the grades it pushed, the newest of each flush, which waited least; `all_grades` covers every grade, so it "
        "is the ingest-to-browser latency to hold against a goal. Its floor is the pipeline's cadence: a grade waits "
        "for the next terms fold (every 50 ms), the fold itself, and the next 100 ms flush. *Ingest p99*: POST "
        "latency from the intended send time (open loop): when it climbs, the machine or the database was "
        "saturated, and the live path inherits that delay before its own.\n",
        "| run | offered/s | stored/s | feed | pushed | p50 ms | p99 ms | max ms | ingest p99 ms | load / compilers |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in latency:
        res = r["result"]
        stored = f"{res['stored_rate']:,.0f}" + (f" ({errors(res)} errors)" if errors(res) else "")
        for feed in ("sampled", "all_grades"):
            f = res[feed]
            extra = ""
            if feed == "all_grades" and (f["duplicates"] or f["out_of_order"]):
                extra = f" ({f['duplicates']} twice, {f['out_of_order']} out of order)"
            out.append(
                f"| {r['run']} | {res['offered_rate']:,.0f} | {stored} | {feed} | {f['share']:.1f} %{extra} | "
                f"{ms(f['p50_ms'])} | {ms(f['p99_ms'])} | {ms(f['max_ms'])} | {ms(res['ingest']['p99_ms'])} "
                f"| {noise(r)} |"
            )
    out += [
        "\n### realtime's CPU and memory\n",
        f"{meta['clients']} Socket.IO clients like the dashboard (WebSocket, one `subscribe_students` each, the "
        f"sampled feed), realtime's CPU from `/proc/PID/stat` over {meta['seconds']} s (% of one core) and its RSS; "
        f"*loaded*: while `grades-bench run` offered {meta['load_rate']:,} grades/s to rest-api for the whole window "
        "and 3 s on either side. *Stored/s in the window*: the growth of the `total` the clients were pushed, i.e. "
        "what the route actually stored and the projector folded while CPU was measured; *answered*: grades-bench's "
        "201s per second over its run (requests queued behind an overloaded route are still answered, late) and "
        "their p99 from the intended send time.\n",
        "| run | state | stored/s in the window | answered/s (p99) | realtime CPU % of a core | RSS MiB (peak) "
        "| pushes per client/s | grades per client/s | terms lag at end | load / compilers |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in held:
        res = r["result"]
        window = "-" if res.get("stored_per_second") is None else f"{res['stored_per_second']:,.0f}"
        if r["kind"] == "loaded":
            load = read_json(r["load"])["total"]
            failed = errors(load)
            answered = f"{round(load['throughput_per_sec']):,} ({load['p99_ms']:,.0f} ms" + (
                f", {failed} errors)" if failed else ")"
            )
            lag = f"{r['terms_lag_at_end']:,.0f}" if r["terms_lag_at_end"] is not None else "-"
        else:
            answered, lag = "-", "-"
        out.append(
            f"| {r['run']} | {r['kind']} | {window} | {answered} | **{res['cpu_percent_of_one_core']:.1f}** | "
            f"{res['rss_mib']:.0f} ({res['rss_peak_mib']:.0f}) | {res['pushes_per_client_per_second']:.1f} | "
            f"{res['grades_per_client_per_second']:.1f} | {lag} | {noise(r)} |"
        )
    out.append("\nCommand: `just live` (LIVE_RATES, LIVE_LOAD_RATE, LIVE_CLIENTS, LIVE_SECONDS, LIVE_RUNS).")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- just protocol

PROTOCOL_METHOD = """
How: rest-api and grpc-server run with `DISCARD_GRADES=true`, so a grade is parsed, validated
against the catalog and acknowledged, and nothing is stored; what remains is each route's HTTP,
gRPC and JSON/protobuf work plus the shared validation. CPU is user + system time from /proc over
the measured window divided by the answered requests; every variant gets the same offered rate
(CPU per request falls with batching, so different rates would distort), except the connection
per request, which cannot hold it.

Public figures for the same pieces, for scale: grpc_bench's summary of 2020-07-23
(github.com/LesnyRumcajs/grpc_bench/pull/62) has the tonic hello-world server at 32,442 calls/s
on 92.6 % of a core, about 29 µs of server CPU per unary call with a 100-byte payload.
"""


def protocol_section(folder):
    """`just protocol`: each route's protocol cost, the storing replaced by a sink that discards."""
    meta = read_json(os.path.join(folder, "meta.json"))
    runs = {name: read_json(os.path.join(folder, f"{name}.json")) for name in meta["variants"]}
    rest = per_request_cpu(runs["rest"])
    out = [
        f"{written_by('protocol')}; {meta['rate']:,.0f} grades/s offered for {meta['seconds']} s.\n",
        "### Ratios (one run)\n",
        "| variant | CPU per grade / rest's | extra µs per grade over rest |",
        "|---|---|---|",
    ]
    for name, run in runs.items():
        total = sum(per_request_cpu(run).values())
        out.append(f"| {name} | {ratio(total, sum(rest.values()))} | {total - sum(rest.values()):+.0f} |")
    out += [
        "\n### Absolute figures\n",
        "| variant | offered/s | served/s | p50 ms | p99 ms | errors | CPU µs per grade, by process | total µs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        cpu = per_request_cpu(run)
        t = run["total"]
        by_process = ", ".join(f"{process} {micros:.0f}" for process, micros in cpu.items())
        out.append(
            f"| {name} | {run['offered_rate']:,.0f} | {t['throughput_per_sec']:,.0f} | {t['p50_ms']:.2f} "
            f"| {t['p99_ms']:.2f} | {errors(t)} | {by_process} | {sum(cpu.values()):.0f} |"
        )
    return "\n".join(out) + "\n" + PROTOCOL_METHOD


def per_request_cpu(run):
    """CPU µs per answered request of each watched process."""
    ok = max(run["total"]["ok"], 1)
    return {name: usage["cpu_seconds"] / ok * 1e6 for name, usage in sorted(run["processes"].items())}


# ---------------------------------------------------------------- just crosscheck

CROSSCHECK_SLO_MS = 20
GENERATORS = ("grades-bench", "oha")


def oha_figures(result, watch):
    """An oha JSON result (and the watch beside it) in grades-bench's terms: served/s, ms, errors."""
    statuses = result.get("statusCodeDistribution") or {}
    # Requests in flight when the time is up are cut off by oha, not failed by the server.
    failed = sum(n for e, n in (result.get("errorDistribution") or {}).items() if e != "aborted due to deadline")
    return {
        "served": result["summary"]["requestsPerSec"],
        "p50_ms": result["latencyPercentiles"]["p50"] * 1000,
        "p99_ms": result["latencyPercentiles"]["p99"] * 1000,
        "errors": failed + sum(n for code, n in statuses.items() if not code.startswith("2")),
        "ok": sum(n for code, n in statuses.items() if code.startswith("2")),
        "processes": watch,
    }


def grades_bench_figures(result):
    t = result["total"]
    return {
        "served": t["throughput_per_sec"],
        "p50_ms": t["p50_ms"],
        "p99_ms": t["p99_ms"],
        "errors": errors(t),
        "ok": t["ok"],
        "processes": result["processes"],
    }


def crosscheck_runs(folder, meta):
    """{(route, rate or "closed", generator): figures} from the run files of `just crosscheck`."""
    runs = {}
    for route in ("rest", "grpc"):
        for rate in meta["rates"]:
            stem = os.path.join(folder, f"{route}-{rate}")
            runs[route, rate, "grades-bench"] = grades_bench_figures(read_json(f"{stem}-grades-bench.json"))
            runs[route, rate, "oha"] = oha_figures(read_json(f"{stem}-oha.json"), read_json(f"{stem}-oha.watch.json"))
        stem = os.path.join(folder, f"{route}-closed")
        runs[route, "closed", "oha"] = oha_figures(read_json(f"{stem}-oha.json"), read_json(f"{stem}-oha.watch.json"))
    return runs


def highest_held(runs, route, rates, generator):
    """The highest offered rate a generator saw held: p99 within the SLO, no errors, served ≥ 95 %."""
    held = [
        r
        for r in rates
        if runs[route, r, generator]["p99_ms"] <= CROSSCHECK_SLO_MS
        and not runs[route, r, generator]["errors"]
        and runs[route, r, generator]["served"] >= 0.95 * r
    ]
    return max(held, default=None)


def crosscheck_section(folder):
    """`just crosscheck`: grades-bench and oha at the same open-loop rates, and oha's closed loop."""
    meta = read_json(os.path.join(folder, "meta.json"))
    runs = crosscheck_runs(folder, meta)
    rates = meta["rates"]
    out = [
        f"{written_by('crosscheck')}; {meta['seconds']} s per run, {meta['connections']} connections for both "
        f"generators' open-loop runs, {meta['closed']} for the closed loop.\n",
        "### Ratios (one run)\n",
        "| route | measure | ratio | target |",
        "|---|---|---|---|",
    ]
    for route in ("rest", "grpc"):
        for rate in rates:
            gb, oha = runs[route, rate, "grades-bench"], runs[route, rate, "oha"]
            out.append(
                f"| {route} | p99 at {rate:,}/s: oha / grades-bench ({oha['p99_ms']:.2f} / {gb['p99_ms']:.2f} ms) "
                f"| {ratio(oha['p99_ms'], gb['p99_ms'])} | |"
            )
        closed = runs[route, "closed", "oha"]
        for generator in GENERATORS:
            held = highest_held(runs, route, rates, generator)
            out.append(
                f"| {route} | highest rate held open loop by {generator} (p99 ≤ {CROSSCHECK_SLO_MS} ms) "
                "/ closed-loop rate "
                f"({held or 0:,} / {closed['served']:,.0f} at p99 {closed['p99_ms']:.1f} ms) "
                f"| **{ratio(held, closed['served'])}** | {'≥ 0.8' if route == 'rest' else ''} |"
            )
    out += [
        "\n### Absolute figures\n",
        "*CPU*: cores busy over the run, by process (the generator's own included).\n",
        "| route | offered/s | generator | served/s | p50 ms | p99 ms | errors | CPU (cores) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (route, rate, generator), f in runs.items():
        # The other generator's name is only the watcher that measured this run.
        shown = {
            n: u for n, u in f["processes"].items() if u["cores"] >= 0.01 and (n == generator or n not in GENERATORS)
        }
        cpu = ", ".join(f"{name} {usage['cores']:.2f}" for name, usage in sorted(shown.items()))
        offered = "closed loop" if rate == "closed" else f"{rate:,}"
        out.append(
            f"| {route} | {offered} | {generator} | {f['served']:,.0f} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} "
            f"| {f['errors']} | {cpu} |"
        )
    out.append(
        "\nCommand: `just crosscheck` (CROSSCHECK_RATES, CROSSCHECK_SECONDS, CROSSCHECK_CONNECTIONS, "
        "CROSSCHECK_CLOSED)."
    )
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- BENCHMARKS.md


def splice(report, name, section):
    """Replaces the section NAME of the Markdown file `report` (appends it when it is not there)."""
    if os.path.exists(report):
        with open(report) as file:
            text = file.read()
    else:
        text = "# Benchmarks\n"
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{section}{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(report, "w") as file:
        file.write(text)


SECTIONS = {
    "bench": bench_section,
    "compare": compare_section,
    "scale": scale_section,
    "live": live_section,
    "protocol": protocol_section,
    "crosscheck": crosscheck_section,
}


def main(argv):
    if argv[:1] == ["machine"]:
        print(machine())
    elif argv[:1] == ["summary"] and len(argv) == 2:
        print(summary_line(argv[1]))
    elif len(argv) == 3 and argv[0] in SECTIONS:
        kind, source, report = argv
        section = SECTIONS[kind](source)
        # A section may name itself (the scale section after its server); else the recipe names it,
        # with `-mysql` after it when the benchmark ran on MySQL, so both servers' figures stand.
        name, section = section if isinstance(section, tuple) else (kind + server_suffix(), section)
        splice(report, name, section)
    else:
        sys.exit(f"usage: {__doc__}")


if __name__ == "__main__":
    main(sys.argv[1:])
