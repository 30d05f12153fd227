#!/usr/bin/env bash
# A database server sized like a production server of `just scale`'s data, on its own port and
# data directory beside the shared one (which it never touches):
#   scripts/scale-server.sh start mariadb|mysql   start it (its data stays between runs), print its URL
#   scripts/scale-server.sh stop mariadb|mysql    stop it
#   scripts/scale-server.sh url mariadb|mysql     print its URL (for MYSQL_SERVER_URL / MYSQL_URL)
#   scripts/scale-server.sh seed mariadb|mysql N [DB]   start it and fill DB (grades_100m) with N
#       grades (`grades-bench seed`, target/release), timed, with the server's memory and disk after
#       it. On MySQL the instance's redo log is off during the load (ALTER INSTANCE DISABLE INNODB
#       REDO_LOG, MySQL's switch for loading a new instance: a third less time here) and back on
#       before anything measures it; a crash meanwhile would lose the instance, which is why only
#       this server of its own does it. MariaDB has no such switch.
# MariaDB is Debian's, natively on port 3316; MySQL is the sandbox's MySQL image (MYSQL_IMAGE in
# .env, `just base-images`) in a container on port 3317, both with root and an empty password.
#   SCALE_BUFFER_POOL (12G)  SCALE_REDO_LOG (2G)  SCALE_DATA (/var/lib/grades-scale)
#
# Why 12 GiB: 100 M grades take about 17 GiB of tables and indexes (20 GiB of data directory on
# MariaDB), of which the dashboard and the inserts touch the summaries (about 4 GiB) and the
# newest end of each index of `grades`. A registrar would run them on a 16 GiB, 4-vCPU database
# machine (Cloud SQL db-custom-4-16384 or its like), and MySQL's own rule for a dedicated server
# (innodb_dedicated_server) gives such a machine 0.75 of its memory as buffer pool, 12 GiB, and
# half a GB of redo log per vCPU, 2 GiB.
set -euo pipefail
cd "$(dirname "$0")/.."

action=${1:?usage: scale-server.sh start|stop|url|seed mariadb|mysql [COUNT [DATABASE]]}
kind=${2:?usage: scale-server.sh start|stop|url|seed mariadb|mysql [COUNT [DATABASE]]}
pool=${SCALE_BUFFER_POOL:-12G}
redo=${SCALE_REDO_LOG:-2G}
data=${SCALE_DATA:-/var/lib/grades-scale}/$kind

case $kind in
    mariadb) port=3316 ;;
    mysql) port=3317 ;;
    *) echo "unknown server kind '$kind': mariadb or mysql" >&2; exit 2 ;;
esac
url=mysql://root@127.0.0.1:$port
container=grades-scale-mysql

client=mysql
command -v mariadb >/dev/null && client=mariadb
sql() { "$client" -h127.0.0.1 -P"$port" -uroot -N -B -e "$1"; }
answers() { sql 'SELECT 1' >/dev/null 2>&1; }

wait_answering() {
    local i
    for ((i = 0; i < 180; i++)); do
        answers && return 0
        sleep 1
    done
    echo "the $kind server did not answer on port $port within 180 s: see $1" >&2
    return 1
}

start_mariadb() {
    mkdir -p "$data"
    if [[ ! -d $data/db/mysql ]]; then
        mariadb-install-db --no-defaults --datadir="$data/db" --auth-root-authentication-method=normal \
            --skip-test-db --user=root >"$data/install.log" 2>&1
    fi
    start-stop-daemon --start --background --pidfile "$data/mariadbd.pid" --exec "$(command -v mariadbd || echo /usr/sbin/mariadbd)" -- \
        --no-defaults --user=root --datadir="$data/db" --port="$port" --bind-address=127.0.0.1 \
        --socket="$data/mariadbd.sock" --pid-file="$data/mariadbd.pid" --log-error="$data/error.log" \
        --innodb-buffer-pool-size="$pool" --innodb-log-file-size="$redo" --max-connections=500
    wait_answering "$data/error.log"
}

start_mysql() {
    local image
    image=${MYSQL_IMAGE:-$(sed -n 's/^MYSQL_IMAGE=//p' .env 2>/dev/null | tail -n 1)}
    [[ -n $image ]] || { echo "no MySQL image: run 'just base-images' first (it writes MYSQL_IMAGE to .env)" >&2; exit 1; }
    mkdir -p "$data"
    docker rm -f "$container" >/dev/null 2>&1 || true
    docker run -d --name "$container" -p "127.0.0.1:$port:3306" -v "$data:/var/lib/mysql" \
        -e MYSQL_ALLOW_EMPTY_PASSWORD=yes "$image" \
        --innodb-buffer-pool-size="$pool" --innodb-redo-log-capacity="$redo" --max-connections=500 >/dev/null
    wait_answering "docker logs $container"
}

case $action in
    start)
        answers || "start_$kind"
        echo "$url"
        ;;
    stop)
        if [[ $kind == mysql ]]; then
            docker stop -t 60 "$container" >/dev/null 2>&1 || true
            docker rm "$container" >/dev/null 2>&1 || true
        elif [[ -f $data/mariadbd.pid ]]; then
            start-stop-daemon --stop --retry 60 --pidfile "$data/mariadbd.pid" || true
        fi
        ;;
    url) echo "$url" ;;
    seed)
        count=${3:?usage: scale-server.sh seed mariadb|mysql COUNT [DATABASE]}
        database=${4:-grades_100m}
        answers || "start_$kind"
        [[ $kind == mysql ]] && sql "ALTER INSTANCE DISABLE INNODB REDO_LOG"
        started=$SECONDS
        MYSQL_URL=$url/$database REDIS_PREFIX=${REDIS_PREFIX:-scale-$database:} target/release/grades-bench seed "$count" || status=$?
        echo "seed: $((SECONDS - started)) s wall"
        [[ $kind == mysql ]] && sql "ALTER INSTANCE ENABLE INNODB REDO_LOG"
        process=mysqld
        [[ $kind == mariadb ]] && process=mariadbd
        echo "server: $(sql "SELECT @@version"), buffer pool $(sql "SELECT @@innodb_buffer_pool_size DIV 1048576") MiB, resident $(($(ps -C "$process" -o rss= | sort -n | tail -1) / 1024)) MiB"
        echo "tables and indexes of $database: $(sql "SELECT ROUND(SUM(data_length + index_length) / POW(1024, 3), 1) FROM information_schema.tables WHERE table_schema = '$database'") GiB; data directory: $(du -sh "$data" | cut -f1)"
        exit "${status:-0}"
        ;;
    *) echo "unknown action '$action': start, stop, url or seed" >&2; exit 2 ;;
esac
