"""Latency of every dashboard endpoint of a running realtime, as a client sees it.

Usage: scale_endpoints.py BASE_URL REQUESTS LATEST_ID > results.jsonl
Each endpoint is asked REQUESTS times over one keep-alive connection, one request at a time;
prints one JSON line per endpoint: path, status, p50_ms, p99_ms, max_ms.
"""

import http.client
import json
import sys
import time
from urllib.parse import urlparse

base, requests, latest = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
deep = max(latest // 10, 2)  # a cursor 90 % of the way down the table

PATHS = [
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


url = urlparse(base)
connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
for path in PATHS:
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
    times.sort()
    print(
        json.dumps(
            {
                "path": path,
                "status": status,
                "requests": len(times),
                "p50_ms": quantile(times, 0.5),
                "p99_ms": quantile(times, 0.99),
                "max_ms": round(times[-1], 2),
            }
        ),
        flush=True,
    )
