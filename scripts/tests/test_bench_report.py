"""bench_report.py, the writer of BENCHMARKS.md: wrk's output read, a `just bench` route row, the
compare tables as `grades-bench step` results give them, and a section spliced in place."""

import json
import pathlib
import tempfile
import unittest
import unittest.mock

import bench_report

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


class WrkResult(unittest.TestCase):
    def test_reads_rate_latency_in_any_unit_and_failures(self):
        result = bench_report.wrk_result((FIXTURES / "wrk-latency.txt").read_text())
        self.assertEqual(
            result,
            {"grades_per_second": 12500.25, "p50_ms": 0.812, "p99_ms": 1200.0, "non_2xx": 3, "socket_errors": 3},
        )

    def test_a_missing_percentile_is_none_and_no_errors_count_zero(self):
        result = bench_report.wrk_result("Requests/sec:  10.5\n")
        self.assertEqual(result["p50_ms"], None)
        self.assertEqual((result["non_2xx"], result["socket_errors"]), (0, 0))


class BenchRoute(unittest.TestCase):
    def record(self, **metrics):
        return {
            "kind": "route",
            "route": "rest",
            "connections": 64,
            "students": 500,
            "caught_up_seconds": 0.4,
            "wrk": str(FIXTURES / "wrk-latency.txt"),
            "watch": str(FIXTURES / "watch.json"),
            "metrics": {
                "grades_writer_batch_grades_sum": ["1000", "13500"],
                "grades_writer_batch_grades_count": ["10", "110"],
                "lag_terms": ["12"],
                "lag_students": ["3.0"],
                **metrics,
            },
        }

    def test_row_from_raw_figures(self):
        row = bench_report.route_run(self.record())
        self.assertEqual(row["grades_per_second"], 12500.25)
        self.assertEqual(row["mean_batch"], 125.0)
        self.assertEqual(row["lag_at_end_ids"], {"terms": 12, "students": 3})
        self.assertEqual(row["cores"], {"rest-api": 0.61, "mariadbd": 0.99})

    def test_metrics_not_printed_count_as_zero(self):
        row = bench_report.route_run(self.record(grades_writer_batch_grades_count=["", ""], lag_terms=[""]))
        self.assertIsNone(row["mean_batch"])
        self.assertEqual(row["lag_at_end_ids"]["terms"], 0)


class BenchSection(unittest.TestCase):
    def test_ratios_from_the_ceilings_and_the_best_run_of_each_route(self):
        route = BenchRoute().record()
        rows = [
            {"kind": "ceiling", "label": "before rest", "one_client": 50000, "four_clients": 60000},
            {"kind": "ceiling", "label": "after", "one_client": 70000, "four_clients": 80000},
            {"kind": "cold_ceiling", "rows_per_second": 30000},
            route,
            dict(route, route="grpc", wrk=str(FIXTURES / "wrk-latency.txt")),
        ]
        with tempfile.TemporaryDirectory() as folder:
            path = pathlib.Path(folder) / "bench.jsonl"
            path.write_text("".join(json.dumps(row) + "\n" for row in rows))
            section = bench_report.bench_section(str(path))
        # 12,500.25 grades/s against the mean one-client ceiling of 60,000 rows/s.
        self.assertIn("| **0.21** | ≥ 0.50 |", section)
        self.assertIn("| grpc route / rest route (best of each) | **1.00** |", section)
        row = "| rest | 500 | 64 | 12,500 | 0.81 | 1200.00 | 6 | 125.0 | 12 / 3 | 0.4 | mariadbd 0.99, rest-api 0.61 |"
        self.assertIn(row, section)


class CompareTables(unittest.TestCase):
    def test_tables_as_grades_bench_wrote_them(self):
        # Expected text: what `grades-bench report --markdown` wrote for these step results before
        # this writer took its place, so BENCHMARKS.md reads the same.
        reports = [json.loads((FIXTURES / f"compare-{route}.json").read_text()) for route in ("rest", "grpc")]
        self.assertEqual(bench_report.compare_tables(reports), (FIXTURES / "compare.md").read_text())

    def test_nothing_measured_is_no_table(self):
        self.assertEqual(bench_report.compare_tables([]), "")


class Splice(unittest.TestCase):
    def test_replaces_only_its_section_and_appends_a_new_one(self):
        with tempfile.TemporaryDirectory() as folder:
            path = pathlib.Path(folder) / "BENCHMARKS.md"
            path.write_text("# B\n<!-- a:start -->\nold a\n<!-- a:end -->\ntext\n<!-- b:start -->\nb\n<!-- b:end -->\n")
            bench_report.splice(str(path), "a", "new a\n")
            bench_report.splice(str(path), "c", "c\n")
            self.assertEqual(
                path.read_text(),
                "# B\n<!-- a:start -->\nnew a\n<!-- a:end -->\ntext\n<!-- b:start -->\nb\n<!-- b:end -->\n\n"
                "<!-- c:start -->\nc\n<!-- c:end -->\n",
            )


if __name__ == "__main__":
    unittest.main()


class ScaleSection(unittest.TestCase):
    """`just scale`'s section: named after the big database's server, with the ingest ratio and the
    slowest endpoint under each reader count against the 50 ms objective."""

    def folder(self, version):
        folder = pathlib.Path(tempfile.mkdtemp())

        def load(p99):
            return {
                "total": {"throughput_per_sec": 505.0, "p50_ms": 3.0, "p99_ms": p99, "errors": {"timeout": 0}},
                "processes": {"rest-api": {"rss_peak_mib": 30.0}},
            }

        meta = {
            "big": "grades_big",
            "empty": "grades_empty",
            "grades": 100_000_000,
            "idempotency_keys": 4_300_000,
            "key_share": 0.1,
            "rate": 500,
            "requests": 200,
            "read_seconds": 8,
            "server_version": version,
            "buffer_pool_bytes": 12 * 2**30,
            "disk_bytes": 21 * 2**30,
        }
        (folder / "meta.json").write_text(json.dumps(meta))
        for db, p99 in (("grades_big", 15.0), ("grades_empty", 10.0)):
            (folder / f"ingest-{db}.json").write_text(json.dumps(load(p99)))
            (folder / f"flush-{db}.json").write_text(json.dumps(load(p99)))
        (folder / "flush.jsonl").write_text(
            "".join(
                json.dumps(
                    {
                        "db": db,
                        "load": str(folder / f"flush-{db}.json"),
                        "live_back_seconds": 0.07,
                        "live_total": 9,
                        "grades": 9,
                    }
                )
                + "\n"
                for db in ("grades_big", "grades_empty")
            )
        )
        endpoints = []
        for readers, p99s in ((1, (1.0, 2.0)), (16, (12.0, 40.0)), (64, (30.0, 120.0))):
            for path, p99 in zip(("/api/live", "/api/grades?semestre=2S"), p99s, strict=True):
                endpoints.append(
                    {
                        "path": path,
                        "readers": readers,
                        "status": 200,
                        "p50_ms": p99 / 2,
                        "p99_ms": p99,
                        "max_ms": p99,
                        "per_second": 900.0,
                    }
                )
        (folder / "endpoints.jsonl").write_text("".join(json.dumps(e) + "\n" for e in endpoints))
        return folder

    def test_named_after_the_server_with_ratios_first(self):
        name, text = bench_report.scale_section(self.folder("9.7.4"))
        self.assertEqual(name, "scale-mysql")
        self.assertIn("on 9.7.4 with a 12 GiB buffer pool", text)
        self.assertIn("| **1.50** | ≤ 2 |", text)
        self.assertIn("under 16 readers / 50 ms (`/api/grades?semestre=2S`, 40.0 ms) | **0.80** | ≤ 1 |", text)
        self.assertIn("under 64 readers / 50 ms (`/api/grades?semestre=2S`, 120.0 ms) | **2.40** |", text)
        self.assertLess(text.index("### Ratios"), text.index("### Ingest"))
        self.assertIn(
            "| `/api/grades?semestre=2S` | 200 | 1.0 | 2.0 | 20.0 | **40.0** | 900 | 60.0 | **120.0** | 900 |", text
        )
        self.assertEqual(bench_report.scale_section(self.folder("10.11.19-MariaDB"))[0], "scale-mariadb")


class SectionNames(unittest.TestCase):
    """A benchmark run on MySQL writes its own section beside MariaDB's."""

    def test_mysql_sections_get_their_own_name(self):
        report = pathlib.Path(tempfile.mkdtemp()) / "BENCHMARKS.md"
        for version, figure in (("10.11.19-MariaDB", "one"), ("9.7.4", "two")):
            with unittest.mock.patch.dict("os.environ", {"BENCH_SERVER_VERSION": version}):
                with unittest.mock.patch.dict(bench_report.SECTIONS, {"compare": lambda _folder, f=figure: f"{f}\n"}):
                    bench_report.main(["compare", "unused", str(report)])
        text = report.read_text()
        self.assertIn("<!-- compare:start -->\none\n<!-- compare:end -->", text)
        self.assertIn("<!-- compare-mysql:start -->\ntwo\n<!-- compare-mysql:end -->", text)


class CrosscheckSection(unittest.TestCase):
    """`just crosscheck`: both generators' figures side by side, oha's read from its own JSON."""

    def test_ratios_and_the_highest_rate_each_generator_saw_held(self):
        folder = pathlib.Path(tempfile.mkdtemp())
        meta = {"seconds": 10, "connections": 256, "closed": 64, "rates": [1000, 8000]}
        (folder / "meta.json").write_text(json.dumps(meta))
        watch = {"oha": {"cpu_seconds": 3.0, "cores": 0.3}, "rest-api": {"cpu_seconds": 5.0, "cores": 0.5}}

        def oha(rate, p99_s, aborted=2):
            return {
                "summary": {"requestsPerSec": rate},
                "latencyPercentiles": {"p50": p99_s / 4, "p99": p99_s},
                "statusCodeDistribution": {"201": rate * 10},
                "errorDistribution": {"aborted due to deadline": aborted},
            }

        def grades_bench(rate, p99_ms):
            total = {"throughput_per_sec": rate, "p50_ms": 1.0, "p99_ms": p99_ms, "errors": {}, "ok": rate * 10}
            return {"total": total, "processes": {"grades-bench": {"cpu_seconds": 2.0, "cores": 0.2}}}

        for route in ("rest", "grpc"):
            (folder / f"{route}-1000-grades-bench.json").write_text(json.dumps(grades_bench(1000, 4.0)))
            (folder / f"{route}-8000-grades-bench.json").write_text(json.dumps(grades_bench(7900, 40.0)))
            (folder / f"{route}-1000-oha.json").write_text(json.dumps(oha(1000, 0.003)))
            (folder / f"{route}-8000-oha.json").write_text(json.dumps(oha(7990, 0.012)))
            (folder / f"{route}-closed-oha.json").write_text(json.dumps(oha(10000, 0.011)))
            for run in ("1000", "8000", "closed"):
                (folder / f"{route}-{run}-oha.watch.json").write_text(json.dumps(watch))
        text = bench_report.crosscheck_section(folder)
        self.assertIn("| rest | p99 at 1,000/s: oha / grades-bench (3.00 / 4.00 ms) | 0.75 | |", text)
        self.assertIn(
            "by grades-bench (p99 ≤ 20 ms) / closed-loop rate (1,000 / 10,000 at p99 11.0 ms) | **0.10** | ≥ 0.8 |",
            text,
        )
        self.assertIn(
            "open loop by oha (p99 ≤ 20 ms) / closed-loop rate (8,000 / 10,000 at p99 11.0 ms) | **0.80** | ≥ 0.8 |",
            text,
        )
        self.assertIn("| rest | 8,000 | oha | 7,990 | 3.00 | 12.00 | 0 | oha 0.30, rest-api 0.50 |", text)
        self.assertIn("| grpc | closed loop | oha | 10,000 |", text)
