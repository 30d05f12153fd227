"""The Grafana dashboard of grades, built with Grafana's Foundation SDK (never hand-edited JSON).

How the two routes behave over time, from the metrics every service exports on /metrics: per-route
request rate, latency and errors; CPU-seconds per 1,000 grades per route (the figure `just compare`
publishes, live); the writer's batches and commits; the projector's lag; the Redis live state and
realtime's clients; readiness and replicas. `job` is the service's name wherever it runs (the scrape
configs and the GKE PodMonitorings name it so).

`python observability/generate.py` writes it to observability/grafana/dashboards/grades.json.
"""

from __future__ import annotations

import warnings

# The classic dashboard model is the one Grafana's file provisioning loads (the v2 schema needs
# Grafana 12's Kubernetes-style API); the SDK marks its builder deprecated in favour of v2.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from grafana_foundation_sdk.builders.dashboard import Dashboard as DashboardBuilder
    from grafana_foundation_sdk.builders.dashboard import DatasourceVariable, Row, ThresholdsConfig
from grafana_foundation_sdk.builders.common import GraphThresholdsStyleConfig, VizLegendOptions
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
from grafana_foundation_sdk.models.common import (
    DataSourceRef,
    GraphThresholdsStyleMode,
    LegendDisplayMode,
    LegendPlacement,
)
from grafana_foundation_sdk.models.dashboard import Dashboard, DashboardCursorSync, Threshold, ThresholdsMode

UID = "grades"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
RATE = "$__rate_interval"
SERVICES = "grpc-client|grpc-server|rest-api|realtime"
# Targets whose refId starts with this need kube-state-metrics (GKE's managed package; none in
# compose or on kind): the panel-data test checks that they query kube-state-metrics' series only.
KUBE_STATE_METRICS = "KSM"
SLO_SECONDS = 0.020


def query(expr: str, legend: str, ref: str) -> Dataquery:
    return Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(DATASOURCE)


def quantiles(metric: str, by: str, legend: str, qs: tuple[float, ...] = (0.5, 0.95, 0.99)) -> list[Dataquery]:
    """histogram_quantile of `metric`'s buckets, one target per quantile."""
    return [
        query(
            f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket[{RATE}])))",
            f"{legend} p{round(q * 100)}",
            f"P{round(q * 100)}",
        )
        for q in qs
    ]


def panel(
    title: str,
    description: str,
    unit: str,
    targets: list[Dataquery],
    width: int = 12,
    threshold: float | None = None,
) -> Timeseries:
    built = (
        Timeseries()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .min(0)
        .span(width)
        .height(8)
        .legend(
            VizLegendOptions().display_mode(LegendDisplayMode.TABLE).placement(LegendPlacement.BOTTOM).show_legend(True)
        )
    )
    for target in targets:
        built = built.with_target(target)
    if threshold is not None:
        steps = [Threshold(value=None, color="green"), Threshold(value=threshold, color="red")]
        built = built.thresholds(ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps))
        built = built.thresholds_style(GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.DASHED))
    return built


def routes_row(dashboard: DashboardBuilder) -> DashboardBuilder:
    requests = "grades_http_request_duration_seconds_count"
    all_by_route = f"sum by (route) (rate({requests}[{RATE}]))"
    return (
        dashboard.with_row(Row("Routes: POST /grades on route 1 (grpc) and route 2 (rest)"))
        .with_panel(
            panel(
                "Requests per second, by route",
                "Every answered POST /grades, at each route's HTTP front "
                "(grpc-client, rest-api). The ingress splits them 50/50.",
                "reqps",
                [query(all_by_route, "{{route}}", "A")],
            )
        )
        .with_panel(
            panel(
                "Answers per second, by route and status",
                "201 stored, 200 an idempotent replay, 4xx refused (not stored), 503 MySQL unreachable.",
                "reqps",
                [
                    query(
                        f"sum by (route, status) (rate(grades_http_requests_total[{RATE}]))",
                        "{{route}} {{status}}",
                        "A",
                    )
                ],
            )
        )
        .with_panel(
            panel(
                "Latency p50 / p95 / p99, by route",
                "From each route's HTTP front, request read to answer "
                "written. Dashed: the 20 ms p99 SLO of `just compare`.",
                "s",
                quantiles("grades_http_request_duration_seconds", "route", "{{route}}"),
                threshold=SLO_SECONDS,
            )
        )
        .with_panel(
            panel(
                "Error ratio, by route and status",
                "Share of POST /grades answered with each non-2xx status; `5xx` "
                "is what the GradesRouteServerErrors alert watches (over 1 %).",
                "percentunit",
                [
                    query(
                        f'sum by (route, status) (rate(grades_http_requests_total{{status!~"2.."}}[{RATE}]))'
                        f" / ignoring (status) group_left {all_by_route}",
                        "{{route}} {{status}}",
                        "A",
                    ),
                    query(
                        f'(sum by (route) (rate(grades_http_requests_total{{status=~"5.."}}[{RATE}])) '
                        f"or {all_by_route} * 0)"
                        f" / {all_by_route}",
                        "{{route}} 5xx",
                        "B",
                    ),
                ],
                threshold=0.01,
            )
        )
        .with_panel(
            panel(
                "CPU-seconds per 1,000 grades, by route",
                "`just compare`'s figure, live: the CPU of each route's "
                "own processes (grpc-client + grpc-server, or rest-api; "
                "grades_route_info says which route a process serves) "
                "per 1,000 grades stored (201). compare also counts "
                "MySQL's and Redis's CPU, which no route owns; the "
                "projector's leader runs in one writing process, so its "
                "folds are charged to that process's route. At a few grades "
                "a second the fixed costs (polling, scrapes) dominate.",
                "s",
                [
                    query(
                        f"1000 * sum by (route) (rate(process_cpu_seconds_total[{RATE}]) "
                        "* ignoring (route) group_left (route) grades_route_info)"
                        f' / sum by (route) (rate(grades_http_requests_total{{status="201"}}[{RATE}]))',
                        "{{route}}",
                        "A",
                    )
                ],
            )
        )
        .with_panel(
            panel(
                "Route 1's gRPC hop: grpc-server vs grpc-client, p99",
                "grpc-server's handling of SubmitGrade against the "
                "whole POST /grades at grpc-client: the gap is the gRPC "
                "call itself (serialisation, HTTP/2, the network).",
                "s",
                [
                    query(
                        "histogram_quantile(0.99, sum by (le, grpc_method) "
                        f'(rate(grades_grpc_server_handling_seconds_bucket{{grpc_method="SubmitGrade"}}[{RATE}])))',
                        "grpc-server {{grpc_method}} p99",
                        "A",
                    ),
                    query(
                        "histogram_quantile(0.99, sum by (le) "
                        f'(rate(grades_http_request_duration_seconds_bucket{{route="grpc"}}[{RATE}])))',
                        "grpc-client POST /grades p99",
                        "B",
                    ),
                    query(
                        f"sum by (grpc_method, grpc_code) (rate(grades_grpc_server_handled_total[{RATE}]))",
                        "{{grpc_method}} {{grpc_code}} /s",
                        "C",
                    ),
                ],
            )
        )
    )


def writer_row(dashboard: DashboardBuilder) -> DashboardBuilder:
    batches = "grades_writer_batch_grades"
    return (
        dashboard.with_row(Row("Writer: group commit into MySQL"))
        .with_panel(
            panel(
                "Grades per commit, by route",
                "How many grades one MySQL transaction carries (at most WRITER_MAX_BATCH, 512): more under load, "
                "so each grade's share of a commit shrinks.",
                "short",
                [
                    query(
                        f"sum by (route) (rate({batches}_sum[{RATE}])) / "
                        f"sum by (route) (rate({batches}_count[{RATE}]))",
                        "{{route}} mean",
                        "A",
                    ),
                    *quantiles(batches, "route", "{{route}}", (0.99,)),
                ],
                width=8,
            )
        )
        .with_panel(
            panel(
                "Commit latency p50 / p99, by route",
                "Writing and committing one batch (the id range, the grades, the idempotency keys, COMMIT).",
                "s",
                quantiles("grades_writer_commit_duration_seconds", "route", "{{route}}", (0.5, 0.99)),
                width=8,
            )
        )
        .with_panel(
            panel(
                "Commits and retried batches per second, by route",
                "A retry follows a deadlock, a lock wait timeout, an "
                "idempotency-key race between replicas or a stale connection.",
                "ops",
                [
                    query(f"sum by (route) (rate({batches}_count[{RATE}]))", "{{route}} commits", "A"),
                    query(
                        f"sum by (route) (rate(grades_writer_batch_retries_total[{RATE}]))", "{{route}} retries", "B"
                    ),
                ],
                width=8,
            )
        )
    )


def projector_row(dashboard: DashboardBuilder) -> DashboardBuilder:
    folds = "grades_projector_fold_duration_seconds"
    return (
        dashboard.with_row(Row("Projector: summary tables folded off the request path"))
        .with_panel(
            panel(
                "Lag in grades, by projection",
                "Committed grades the projection has not folded yet (its leader's reading).",
                "short",
                [query("max by (projection) (grades_projector_lag_ids)", "{{projection}}", "A")],
                width=8,
            )
        )
        .with_panel(
            panel(
                "Lag in seconds, by projection",
                "Age of the oldest grade not folded yet. Dashed: the "
                "GradesProjectorLagging alert (10 s for 2 minutes).",
                "s",
                [query("max by (projection) (grades_projector_lag_seconds)", "{{projection}}", "A")],
                width=8,
                threshold=10,
            )
        )
        .with_panel(
            panel(
                "Folds: per second, p99 time, failures, by projection",
                "terms folds every 50 ms under load, students every 400 ms (PROJECTOR_*_INTERVAL_MS).",
                "short",
                [
                    query(f"sum by (projection) (rate({folds}_count[{RATE}]))", "{{projection}} folds/s", "A"),
                    query(
                        f"histogram_quantile(0.99, sum by (le, projection) (rate({folds}_bucket[{RATE}]))) * 1000",
                        "{{projection}} p99 ms",
                        "B",
                    ),
                    query(
                        f"sum by (projection) (rate(grades_projector_fold_failures_total[{RATE}]))",
                        "{{projection}} failures/s",
                        "C",
                    ),
                ],
                width=8,
            )
        )
        .with_panel(
            panel(
                "Leader, by projection and instance",
                "1 where the process holds the projection's MySQL lock and folds it; one leader per projection.",
                "short",
                [
                    query(
                        "max by (projection, job, instance) (grades_projector_leader)",
                        "{{projection}} {{job}} {{instance}}",
                        "A",
                    )
                ],
                width=24,
            )
        )
    )


def live_row(dashboard: DashboardBuilder) -> DashboardBuilder:
    return (
        dashboard.with_row(Row("Redis live state and realtime"))
        .with_panel(
            panel(
                "Redis live state behind the terms projection (grades)",
                "The terms watermark minus the one the Redis live hash equals: 0 while the live sync keeps up.",
                "short",
                [
                    query(
                        'max(grades_projector_applied_id{projection="terms"}) - max(grades_live_synced_id)',
                        "behind",
                        "A",
                    ),
                    query(
                        'min by (job) (grades_dependency_up{dependency="redis"})',
                        "{{job}} sees Redis",
                        "B",
                    ),
                ],
                width=8,
            )
        )
        .with_panel(
            panel(
                "Live-state rebuilds and failures per second",
                "A rebuild replaces the hash from the summary tables (Redis restarted empty, an update missed); "
                "a failed write is retried by one.",
                "ops",
                [
                    query(f"sum(rate(grades_live_rebuilds_total[{RATE}]))", "rebuilds", "A"),
                    query(f"sum(rate(grades_live_sync_failures_total[{RATE}]))", "failed writes", "B"),
                    query(
                        f"sum(rate(grades_projector_live_notices_dropped_total[{RATE}]))", "fold notices dropped", "C"
                    ),
                ],
                width=8,
            )
        )
        .with_panel(
            panel(
                "Realtime: Socket.IO clients and pushes",
                "Browsers connected to realtime, and its broadcasts per second "
                "by event (coalesced to at most ~10 a second per client).",
                "short",
                [
                    query("sum by (instance) (grades_realtime_socket_clients)", "clients {{instance}}", "A"),
                    query(f"sum by (event) (rate(grades_realtime_pushes_total[{RATE}]))", "{{event}} pushes/s", "B"),
                    query(f"sum(rate(grades_realtime_events_received_total[{RATE}]))", "live events received/s", "C"),
                ],
                width=8,
            )
        )
        .with_panel(
            panel(
                "Realtime API latency p99, by path",
                "The dashboard's HTTP API (/api/*).",
                "s",
                quantiles("grades_realtime_api_request_duration_seconds", "path", "{{path}}", (0.99,)),
                width=24,
            )
        )
    )


def processes_row(dashboard: DashboardBuilder) -> DashboardBuilder:
    return (
        dashboard.with_row(Row("Processes, readiness and replicas"))
        .with_panel(
            panel(
                "Ready, by instance",
                "1 when /readyz would answer 200 (asked at every scrape); per dependency "
                "below it. The GradesNotReady alert fires after 2 minutes at 0.",
                "short",
                [
                    query("min by (job, instance) (grades_ready)", "{{job}} {{instance}}", "A"),
                    query("min by (job, dependency) (grades_dependency_up)", "{{job}} → {{dependency}}", "B"),
                ],
            )
        )
        .with_panel(
            panel(
                "Replicas per service",
                "Instances Prometheus scrapes and finds up, per service; where kube-state-metrics runs (GKE's managed "
                "package), each Deployment's available and desired replicas too.",
                "short",
                [
                    query(f'count by (job) (up{{job=~"{SERVICES}"}} == 1)', "{{job}} scraped", "A"),
                    query(
                        'sum by (deployment) (kube_deployment_status_replicas_available{namespace="so1p2"})',
                        "{{deployment}} available",
                        f"{KUBE_STATE_METRICS}_AVAILABLE",
                    ),
                    query(
                        'sum by (deployment) (kube_deployment_spec_replicas{namespace="so1p2"})',
                        "{{deployment}} desired",
                        f"{KUBE_STATE_METRICS}_DESIRED",
                    ),
                ],
            )
        )
        .with_panel(
            panel(
                "CPU, by service",
                "Cores used by every replica of each service together.",
                "percentunit",
                [query(f'sum by (job) (rate(process_cpu_seconds_total{{job=~"{SERVICES}"}}[{RATE}]))', "{{job}}", "A")],
            )
        )
        .with_panel(
            panel(
                "Resident memory, by instance",
                "RSS of each process.",
                "bytes",
                [
                    query(
                        f'max by (job, instance) (process_resident_memory_bytes{{job=~"{SERVICES}"}})',
                        "{{job}} {{instance}}",
                        "A",
                    )
                ],
            )
        )
    )


def build() -> Dashboard:
    dashboard = (
        DashboardBuilder("grades")
        .uid(UID)
        .description(
            "How route 1 (grpc-client → gRPC → grpc-server) and route 2 (rest-api) behave over time, and the "
            "services behind them. Generated by observability/dashboard.py "
            "(Grafana Foundation SDK): edit that, not the JSON."
        )
        .tags(["grades", "generated"])
        .editable()
        .refresh("10s")
        .time("now-30m", "now")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .with_variable(DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
    )
    for row in (routes_row, writer_row, projector_row, live_row, processes_row):
        dashboard = row(dashboard)
    built = dashboard.build()
    # One id per panel (the builder leaves them all 0): Grafana keys links and edits by id.
    for number, each in enumerate(built.panels or [], start=1):
        each.id_val = number
    return built
