"""Latency of every dashboard endpoint of a running realtime, as its readers see it.

Usage: scale_endpoints.py BASE_URL REQUESTS LATEST_ID [READERS SECONDS] > results.jsonl

Without READERS, each endpoint is asked REQUESTS times over one keep-alive connection, one
request at a time. With READERS (say 16,64), each endpoint is then read by that many keep-alive
connections at once for SECONDS each, every connection sending its next request as soon as the
last is answered (closed loop, `oha -c N -z S`): how a dashboard behaves when many people read it
at once, which one request at a time never shows (each request's cost queues behind the others').
Prints one JSON line per endpoint and reader count: path, readers, status, requests, per_second,
p50_ms, p99_ms, max_ms, errors.
"""

import http.client
import json
import subprocess
import sys
import time
from urllib.parse import urlparse


def paths(latest):
    """The endpoints and filters the dashboard asks for, with cursors into a table of `latest` ids."""
    deep = max(latest // 10, 2)  # a cursor 90 % of the way down the table
    return [
        "/api/courses",
        "/api/live",
        "/api/stats/routes",
        "/api/stats/projector",
        "/api/stats/pass-fail?curso=SO1&semestre=2S&year=2010",
        "/api/stats/pass-fail?curso=SO1&semestre=2S",
        "/api/stats/top-courses?semestre=2S&year=2010",
        "/api/stats/top-courses?semestre=1S",
        "/api/stats/top-students",
        "/api/stats/top-students?semestre=2S&year=2010",
        "/api/stats/top-students?year=2010",
        "/api/grades",
        "/api/grades?curso=SO1",
        "/api/grades?curso=SO1&semestre=2S&year=2010",
        "/api/grades?semestre=1S&year=2010",
        "/api/grades?semestre=1S",
        "/api/grades?semestre=2S",
        "/api/grades?year=2010",
        "/api/grades?year=2030",
        "/api/grades?curso=SO1&year=2010",
        "/api/grades?curso=SO1&year=2030",
        "/api/grades?curso=SO1&semestre=2S",
        f"/api/grades?cursor={deep}",
        f"/api/grades?curso=SO1&cursor={deep}",
        f"/api/grades?semestre=2S&year=2010&cursor={deep}",
    ]


def quantile(ordered, q):
    """The q-quantile of sorted milliseconds, rounded to 0.01 ms."""
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def one_at_a_time(base, path, requests):
    url = urlparse(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    times, status = [], None
    for _ in range(requests):
        start = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        times.append((time.perf_counter() - start) * 1000)
        status = response.status
        if times[-1] > 2000 and len(times) >= 3:
            break  # a scan: three samples say enough
    connection.close()
    times.sort()
    return {
        "path": path,
        "readers": 1,
        "status": status,
        "requests": len(times),
        "p50_ms": quantile(times, 0.5),
        "p99_ms": quantile(times, 0.99),
        "max_ms": round(times[-1], 2),
    }


def concurrent(base, path, readers, seconds):
    """`readers` connections at once for `seconds`, closed loop, with oha (it keeps every latency)."""
    run = subprocess.run(
        ["oha", "--no-tui", "--output-format", "json", "-c", str(readers), "-z", f"{seconds}s", base + path],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(run.stdout)
    summary, percentiles = result["summary"], result["latencyPercentiles"]
    statuses = result.get("statusCodeDistribution") or {}

    def ms(seconds_value):
        return round((seconds_value or 0) * 1000, 2)

    return {
        "path": path,
        "readers": readers,
        "status": ",".join(sorted(statuses)) or None,
        "requests": sum(statuses.values()),
        "per_second": round(summary["requestsPerSec"], 1),
        "p50_ms": ms(percentiles["p50"]),
        "p99_ms": ms(percentiles["p99"]),
        "max_ms": ms(summary["slowest"]),
        # The requests in flight when the time is up are cut off by oha, not failed by the server.
        "errors": sum(
            n for error, n in (result.get("errorDistribution") or {}).items() if error != "aborted due to deadline"
        )
        + sum(n for code, n in statuses.items() if not code.startswith("2")),
    }


def main(argv):
    if len(argv) not in (3, 5):
        sys.exit(__doc__)
    base, requests, latest = argv[0], int(argv[1]), int(argv[2])
    for path in paths(latest):
        print(json.dumps(one_at_a_time(base, path, requests)), flush=True)
    if len(argv) == 5:
        readers, seconds = [int(n) for n in argv[3].split(",")], float(argv[4])
        for count in readers:
            for path in paths(latest):
                print(json.dumps(concurrent(base, path, count, seconds)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
