#!/usr/bin/env bash
# A team registry on one machine: PostgreSQL as MLflow's backend store, an MLflow tracking server that proxies
# artifacts (MLflow's "scenario 5"), both on 127.0.0.1.
#
#   scripts/team_registry.sh start [FOLDER]    # initdb on first use, start PostgreSQL and `mlflow server`
#   scripts/team_registry.sh stop [FOLDER]     # stop both (the data stay in FOLDER)
#   scripts/team_registry.sh status [FOLDER]
#
# FOLDER (default $CLIPZOO_TEAM_HOME or ~/.clipzoo-team) holds the database cluster (pg/), the artifact store
# (artifacts/) and the logs. Ports: PGPORT (default 5433) and MLFLOW_PORT (default 5000). PYTHON names the
# interpreter that has clipzoo and mlflow (default: python3 on PATH). Point every clipzoo command at it with
#   export MLFLOW_TRACKING_URI=http://127.0.0.1:${MLFLOW_PORT}
# A real deployment runs the same `mlflow server` line against a database host and an object store; see README.
set -euo pipefail

action="${1:-}"
folder="${2:-${CLIPZOO_TEAM_HOME:-$HOME/.clipzoo-team}}"
pg_port="${PGPORT:-5433}"
mlflow_port="${MLFLOW_PORT:-5000}"
python="${PYTHON:-python3}"
workers="${MLFLOW_WORKERS:-2}"
pg_bin="${PG_BIN:-$( (pg_config --bindir 2>/dev/null) || ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"

die() { echo "team_registry: $*" >&2; exit 2; }
[[ "$action" =~ ^(start|stop|status)$ ]] || die "usage: $0 start|stop|status [FOLDER]"
[[ -x "$pg_bin/initdb" && -x "$pg_bin/pg_ctl" ]] || die "PostgreSQL binaries not found (install postgresql, or set PG_BIN)"

mkdir -p "$folder"
folder="$(cd "$folder" && pwd)"
pgdata="$folder/pg"
socket="$folder/socket"
mlflow_pid="$folder/mlflow.pid"
db_uri="postgresql://clipzoo@127.0.0.1:${pg_port}/mlflow"
tracking="http://127.0.0.1:${mlflow_port}"

# PostgreSQL refuses to run as root: as root, its commands run as the unprivileged `postgres` account.
as_pg() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u "${PG_USER:-postgres}" -- "$@"
    else
        "$@"
    fi
}

pg_running() { as_pg "$pg_bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; }
mlflow_running() { [[ -f "$mlflow_pid" ]] && kill -0 "$(cat "$mlflow_pid")" 2>/dev/null; }

start_postgres() {
    if [[ ! -f "$pgdata/PG_VERSION" ]]; then
        mkdir -p "$pgdata" "$socket"
        [[ "$(id -u)" == 0 ]] && chown "${PG_USER:-postgres}" "$pgdata" "$socket"
        chmod 700 "$pgdata"
        as_pg test -w "$pgdata" || die "the ${PG_USER:-postgres} account cannot reach $pgdata: pick a FOLDER it can open"
        # Trust on 127.0.0.1 only: this cluster is for trying the setup on one machine (see README for a real host).
        as_pg "$pg_bin/initdb" -D "$pgdata" -U clipzoo --auth=trust --encoding=UTF8 --no-instructions >"$folder/initdb.log"
    fi
    if ! pg_running; then
        as_pg "$pg_bin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 60 \
            -o "-h 127.0.0.1 -p $pg_port -k $socket" start >/dev/null
    fi
    if ! as_pg "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U clipzoo -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'mlflow'" | grep -q 1; then
        as_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U clipzoo mlflow
    fi
}

start_mlflow() {
    mlflow_running && return 0
    mkdir -p "$folder/artifacts"
    # Proxied artifacts: clients upload and download through the server; none needs this machine's disk.
    # Large checkpoints: give uploads time (MLflow's client reads MLFLOW_HTTP_REQUEST_TIMEOUT, clipzoo raises it).
    MLFLOW_DISABLE_TELEMETRY=true nohup "$python" -m mlflow server \
        --backend-store-uri "$db_uri" \
        --serve-artifacts --artifacts-destination "$folder/artifacts" \
        --host 127.0.0.1 --port "$mlflow_port" --workers "$workers" \
        >"$folder/mlflow.log" 2>&1 &
    echo $! >"$mlflow_pid"
    for _ in $(seq 1 240); do
        if "$python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + '/health', timeout=2)" \
            "$tracking" 2>/dev/null; then
            return 0
        fi
        mlflow_running || { tail -20 "$folder/mlflow.log" >&2; die "mlflow server exited (log: $folder/mlflow.log)"; }
        sleep 0.5
    done
    die "mlflow server did not answer on $tracking within 120 s (log: $folder/mlflow.log)"
}

stop_mlflow() {
    if mlflow_running; then
        pid="$(cat "$mlflow_pid")"
        pkill -TERM -P "$pid" 2>/dev/null || true  # its workers
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$mlflow_pid"
}

case "$action" in
start)
    start_postgres
    start_mlflow
    echo "team registry up: PostgreSQL on 127.0.0.1:$pg_port, MLflow on $tracking (artifacts in $folder/artifacts)"
    echo "export MLFLOW_TRACKING_URI=$tracking"
    ;;
stop)
    stop_mlflow
    if [[ -f "$pgdata/PG_VERSION" ]] && pg_running; then
        as_pg "$pg_bin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
    fi
    echo "team registry stopped (data kept in $folder)"
    ;;
status)
    pg_running && echo "postgres: running on 127.0.0.1:$pg_port" || echo "postgres: stopped"
    mlflow_running && echo "mlflow: running on $tracking" || echo "mlflow: stopped"
    ;;
esac
