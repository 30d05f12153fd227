# shellcheck shell=bash
# What every benchmark script (bench.sh, compare.sh, live.sh, scale.sh) does before measuring;
# sourced from the repository root, after which the services and SQL functions are there too.
#
#   benchmark_start NAME DATABASE REDIS_PREFIX PORT_BASE [BIN_DIR]
#       sets `server` (MYSQL_SERVER_URL, default mysql://root@127.0.0.1:3306) and aims the SQL
#       functions at it, `redis` (REDIS_URL, default redis://127.0.0.1:6379), `db` and `prefix`
#       (DATABASE, REDIS_PREFIX), `out` (target/NAME, created) and `bin` (BIN_DIR, else release
#       binaries built now); the services it starts use DATABASE on that server, keys under
#       REDIS_PREFIX and the ports at PORT_BASE (services.sh), log JSON at warn, and are stopped on exit;
#       exports BENCH_SERVER_VERSION (the server's @@version, which the reports print) and BENCH_WATCH
#       (the processes grades-bench watches: the services, the server's own process, Redis)
#   need_oha                         installs oha (crates registry) when it is missing
#   now                              the time in seconds, as a decimal
#   seconds_since START              seconds from START (a `now`) to now, to 0.01 s

source scripts/lib/services.sh
source scripts/lib/mysql.sh

benchmark_start() {
    # shellcheck disable=SC2034 # read by the benchmark script
    server=${MYSQL_SERVER_URL:-mysql://root@127.0.0.1:3306} redis=${REDIS_URL:-redis://127.0.0.1:6379} out=target/$1
    db=$2 prefix=$3 SERVICES_PORT_BASE=$4
    mkdir -p "$out"
    sql_server "$server"
    BENCH_SERVER_VERSION=$(sql -N -B -e "SELECT @@version") ||
        { echo "no database server answers at $server (MYSQL_SERVER_URL)" >&2; return 1; }
    # A container's server runs on this host too, under its own process name.
    local server_process=mysqld
    [[ $BENCH_SERVER_VERSION == *MariaDB* ]] && server_process=mariadbd
    export BENCH_SERVER_VERSION BENCH_WATCH=rest-api,grpc-client,grpc-server,realtime,$server_process,redis-server
    if [[ -n ${5:-} ]]; then
        bin=$5
    else
        cargo build --release --bins
        bin=target/release
    fi
    trap 'services_stop 10' EXIT
    export MYSQL_URL=$server/$db REDIS_URL=$redis REDIS_PREFIX=$prefix LOG_FORMAT=json RUST_LOG=warn
}

need_oha() { command -v oha >/dev/null || cargo install --locked oha; }

now() { date +%s.%N; }
seconds_since() { python3 -c "print(round($(now) - $1, 2))"; }
