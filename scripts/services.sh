#!/usr/bin/env bash
# A PostgreSQL server and an MLflow tracking server on 127.0.0.1, for trying the
# scaled-out sweep on one machine (and for the tests). Nothing listens beyond loopback.
#
#   scripts/services.sh start    # initialise (first time) and start both; prints the overrides
#   scripts/services.sh stop [postgres|mlflow]    # both, or one
#   scripts/services.sh status
#
# Settings (environment): SERVICES_DIR (experiments/services), PG_PORT (5433),
# MLFLOW_PORT (5001), PG_USER / PG_PASSWORD (many2many / many2many), PY (.venv/bin/python).
# PostgreSQL comes from Debian's packages; it is installed with apt-get if missing (root).
set -euo pipefail

DIR=${SERVICES_DIR:-experiments/services}
PG_PORT=${PG_PORT:-5433}
MLFLOW_PORT=${MLFLOW_PORT:-5001}
PG_USER=${PG_USER:-many2many}
PG_PASSWORD=${PG_PASSWORD:-many2many}
PY=${PY:-.venv/bin/python}

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
PGDATA="$DIR/postgres"
# No password in any URL or command line (`ps` shows those to every local user): libpq reads
# it from this file, readable by its owner only. Point PGPASSFILE at it to use the URLs below.
PGPASS="$DIR/pgpass"
URL_BASE="postgresql+psycopg://$PG_USER@127.0.0.1:$PG_PORT"

pg_bin() {
    if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
        echo "installing PostgreSQL from Debian's packages..." >&2
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    fi
    ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1
}

# PostgreSQL refuses to run as root: as root, its files and processes belong to 'postgres'.
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_running() { [ -f "$PGDATA/postmaster.pid" ] && as_pg "$(pg_bin)/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }
mlflow_running() { [ -f "$DIR/mlflow.pid" ] && kill -0 "$(cat "$DIR/mlflow.pid")" 2>/dev/null; }

start_postgres() {
    local bin; bin=$(pg_bin)
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
        mkdir -p "$PGDATA"
        local pwfile="$DIR/.pgpass.init"
        (umask 077 && printf '%s\n' "$PG_PASSWORD" >"$pwfile")
        if [ "$(id -u)" = 0 ]; then chown -R postgres "$PGDATA" "$pwfile"; chmod 755 "$DIR"; fi
        as_pg "$bin/initdb" -D "$PGDATA" -U "$PG_USER" --pwfile="$pwfile" \
            --auth-host=scram-sha-256 --auth-local=scram-sha-256 >"$DIR/initdb.log"
        rm -f "$pwfile"
    fi
    if ! pg_running; then
        # TCP on loopback only, no Unix socket.
        as_pg "$bin/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=''" start >/dev/null
    fi
    (umask 077 && printf '127.0.0.1:%s:*:%s:%s\n' "$PG_PORT" "$PG_USER" "$PG_PASSWORD" >"$PGPASS")
    for db in optuna mlflow; do
        if ! PGPASSFILE=$PGPASS psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
                "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
            PGPASSFILE=$PGPASS psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -qc "CREATE DATABASE $db"
        fi
    done
}

start_mlflow() {
    mlflow_running && return
    mkdir -p "$DIR/artifacts"
    # Its own session, so `stop` ends the server and its workers together. Without MLflow's job
    # runner (GenAI evaluation jobs, which this project has none of): with it, every start
    # brought eight more processes each importing MLflow, 2.4 GB and 26 CPU-seconds in the
    # first 15 s here, against 0.5 GB and 6 s without.
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=${MLFLOW_SERVER_ENABLE_JOB_EXECUTION:-false} \
        PGPASSFILE=$PGPASS setsid "$PY" -m mlflow server --backend-store-uri "$URL_BASE/mlflow" \
        --artifacts-destination "$DIR/artifacts" --serve-artifacts \
        --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 1 >"$DIR/mlflow.log" 2>&1 &
    echo $! >"$DIR/mlflow.pid"
    for _ in $(seq 120); do
        curl -sf "http://127.0.0.1:$MLFLOW_PORT/health" >/dev/null && return
        mlflow_running || { echo "mlflow server failed to start; see $DIR/mlflow.log" >&2; exit 1; }
        sleep 0.5
    done
    echo "mlflow server did not answer in 60 s; see $DIR/mlflow.log" >&2
    exit 1
}

stop_mlflow() {
    if mlflow_running; then
        kill -- "-$(cat "$DIR/mlflow.pid")" 2>/dev/null || true
        for _ in $(seq 40); do mlflow_running || break; sleep 0.25; done
    fi
    rm -f "$DIR/mlflow.pid"
}

stop_postgres() {
    if pg_running; then as_pg "$(pg_bin)/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null; fi
}

case "${1:-}" in
    start)
        start_postgres
        start_mlflow
        echo "PostgreSQL on 127.0.0.1:$PG_PORT, MLflow server on http://127.0.0.1:$MLFLOW_PORT. Use:"
        echo "  export PGPASSFILE=$PGPASS"
        echo "  search.storage=$URL_BASE/optuna tracking.uri=http://127.0.0.1:$MLFLOW_PORT"
        ;;
    stop)
        case "${2:-both}" in
            mlflow) stop_mlflow ;;
            postgres) stop_postgres ;;
            both) stop_mlflow; stop_postgres ;;
            *) echo "usage: $0 stop [postgres|mlflow]" >&2; exit 2 ;;
        esac
        ;;
    status)
        pg_running && echo "postgres: running on 127.0.0.1:$PG_PORT" || echo "postgres: stopped"
        mlflow_running && echo "mlflow: running on http://127.0.0.1:$MLFLOW_PORT" || echo "mlflow: stopped"
        ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
