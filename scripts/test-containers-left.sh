#!/usr/bin/env bash
# After a test run that used containers (just test-rust-containers): waits for the run's reaper to
# remove them (it acts within seconds of the test runner's exit) and fails if any test container
# is still there. Test containers carry the label grades.testkit.run (crates/testkit).
set -euo pipefail
for _ in $(seq 1 30); do
    left=$(docker ps -aq --filter label=grades.testkit.run)
    [ -z "$left" ] && { echo "test containers: none left"; exit 0; }
    sleep 1
done
echo "test containers left behind after 30 s:" >&2
docker ps -a --filter label=grades.testkit.run --format '{{.Names}} {{.Status}} (run {{.Label "grades.testkit.run"}})' >&2
exit 1
