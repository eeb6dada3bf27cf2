#!/usr/bin/env bash
# A three-master Redis Cluster on 127.0.0.1 for the cluster tests (CONTRACT §7).
#
#   scripts/redis-cluster.sh start    # start the nodes, join them, wait for cluster_state:ok,
#                                     # write .dev/redis-cluster.env (REDIS_CLUSTER_URL)
#   scripts/redis-cluster.sh stop     # stop the nodes this script started
#   scripts/redis-cluster.sh status   # exit 0 only when every node answers and the cluster is ok
#
# Ports: SITEJOBS_REDIS_CLUSTER_PORT (default 55301) and the next two; each
# node's cluster bus listens 10000 above its port, so the ports stay <= 55535.
# Ports held by something that is not this checkout's nodes (another
# checkout's cluster) move the cluster to the next three free ones, written
# to .dev/redis-cluster.env and tried first by later starts; a port set
# explicitly and held by someone else stops the script instead.
# Data: SITEJOBS_REDIS_CLUSTER_DIR (default .dev/data/redis-cluster, beside the
# dev services' data; .dev/data is a symlink to a temp dir when run as root).
# Idempotent: this checkout's running, healthy cluster is left as it is.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
DEV_DIR="$ROOT/.dev"
ENV_FILE="$DEV_DIR/redis-cluster.env"
DIR="${SITEJOBS_REDIS_CLUSTER_DIR:-$DEV_DIR/data/redis-cluster}"
START_TIMEOUT=60

log() { printf 'redis-cluster: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# shellcheck source=ports.sh
source "$ROOT/scripts/ports.sh"
PORT_EXPLICIT="${SITEJOBS_REDIS_CLUSTER_PORT:+1}"
FIRST_PORT="${SITEJOBS_REDIS_CLUSTER_PORT:-$(env_port "$ENV_FILE" REDIS_CLUSTER_URL)}"
FIRST_PORT="${FIRST_PORT:-55301}"
[[ "$FIRST_PORT" =~ ^[0-9]+$ ]] || die "SITEJOBS_REDIS_CLUSTER_PORT must be a number, got '$FIRST_PORT'"
(( FIRST_PORT >= 1024 && FIRST_PORT + 2 <= 55535 )) \
    || die "SITEJOBS_REDIS_CLUSTER_PORT must be between 1024 and 55533 (the cluster bus is port+10000), got $FIRST_PORT"
set_ports() { PORTS=("$1" "$(($1 + 1))" "$(($1 + 2))"); }
set_ports "$FIRST_PORT"

cluster_url() {
    local p urls=()
    for p in "${PORTS[@]}"; do urls+=("redis://127.0.0.1:$p/"); done
    (IFS=,; printf '%s' "${urls[*]}")
}

node_pid() {
    # The pid of our node on port $1, if its pidfile names a live redis-server.
    local pid file="$DIR/$1/redis.pid"
    [[ -f "$file" ]] || return 1
    pid="$(tr -dc '0-9' <"$file")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q redis || return 1
    printf '%s' "$pid"
}

cli() { local port="$1"; shift; redis-cli -h 127.0.0.1 -p "$port" "$@" 2>/dev/null; }

node_up() { [[ "$(cli "$1" ping)" == PONG ]]; }

cluster_ok() {
    local p
    for p in "${PORTS[@]}"; do
        cli "$p" cluster info | grep -q '^cluster_state:ok' || return 1
    done
}

write_env() {
    mkdir -p "$DEV_DIR"
    printf '# Written by scripts/redis-cluster.sh start; load with: source .dev/redis-cluster.env\nexport REDIS_CLUSTER_URL=%s\n' \
        "$(cluster_url)" >"$ENV_FILE"
}

start_node() {
    local port="$1" dir="$DIR/$1"
    if node_pid "$port" >/dev/null && node_up "$port"; then
        return 0
    fi
    # A node that is not running starts from scratch: its old slot map is stale.
    rm -rf "$dir"
    mkdir -p "$dir"
    # Bound to loopback only, so protected mode has nothing to protect.
    redis-server --bind 127.0.0.1 --port "$port" --protected-mode no \
        --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" \
        --cluster-node-timeout 5000 --daemonize yes --pidfile "$dir/redis.pid" \
        --logfile "$dir/redis.log" --dir "$dir" --save '' --appendonly no >/dev/null \
        || die "redis-server failed to start on port $port (see $dir/redis.log)"
    local deadline=$((SECONDS + START_TIMEOUT))
    until node_up "$port"; do
        # Free when checked, taken at the bind (a client's own end of a
        # connection, in the ephemeral range): the caller moves on.
        if grep -q 'Address already in use' "$dir/redis.log" 2>/dev/null; then
            return 2
        fi
        if (( SECONDS >= deadline )); then
            tail -n 20 "$dir/redis.log" >&2 || true
            die "node on 127.0.0.1:$port not answering after ${START_TIMEOUT}s (port taken?)"
        fi
        sleep 0.1
    done
}


# Whether port $1 (or its cluster bus) is held by something other than this
# checkout's node on it.
held_by_other() {
    node_pid "$1" >/dev/null && return 1
    port_busy "$1" || port_busy "$(($1 + 10000))"
}

# Moves PORTS to the first three ports after $1 that nobody holds (with
# their buses).
move_ports() {
    local first
    for (( first = $1 + 3; first + 2 <= 55535; first += 3 )); do
        if ! held_by_other "$first" && ! held_by_other "$((first + 1))" && ! held_by_other "$((first + 2))"; then
            set_ports "$first"
            return 0
        fi
    done
    die "no three free ports from $1 to 55535 for the cluster"
}

# Keeps PORTS when none of them is held by another's server; else moves them
# on, or stops when they were set explicitly.
claim_ports() {
    local p
    for p in "${PORTS[@]}"; do
        held_by_other "$p" || continue
        [[ -z "$PORT_EXPLICIT" ]] \
            || die "port $p (or its bus, $((p + 10000))) is held by something that is not this checkout's cluster node (SITEJOBS_REDIS_CLUSTER_PORT=${PORTS[0]})"
        move_ports "${PORTS[0]}"
        log "port $p is held by something that is not this checkout's cluster node; using ${PORTS[0]}-${PORTS[2]}"
        return 0
    done
}

# Stops this checkout's node on each port given, if it runs.
stop_nodes() {
    local p pid deadline
    for p in "$@"; do
        pid="$(node_pid "$p")" || continue
        log "stopping node $p (pid $pid)"
        kill -TERM "$pid"
        deadline=$((SECONDS + 30))
        while kill -0 "$pid" 2>/dev/null; do
            (( SECONDS < deadline )) || { kill -KILL "$pid" 2>/dev/null || true; break; }
            sleep 0.1
        done
    done
}

# Whether this checkout's three nodes run and form a healthy cluster.
ours_ok() {
    local p
    for p in "${PORTS[@]}"; do node_pid "$p" >/dev/null || return 1; done
    cluster_ok
}

cmd_start() {
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null \
        || die "redis-server and redis-cli are needed (scripts/dev-services.sh start installs them)"
    if ours_ok; then
        log "already running and ok on ports ${PORTS[*]}"
        write_env
        return 0
    fi
    claim_ports
    local p known rc retries=3
    while true; do
        rc=0
        for p in "${PORTS[@]}"; do start_node "$p" || { rc=$?; break; }; done
        (( rc == 0 )) && break
        stop_nodes "${PORTS[@]}"
        if [[ -n "$PORT_EXPLICIT" ]] || (( retries-- <= 0 )); then
            tail -n 5 "$DIR/$p/redis.log" >&2 || true
            die "node on 127.0.0.1:$p could not bind its port (see $DIR/$p/redis.log)"
        fi
        move_ports "${PORTS[0]}"
        log "port $p was taken when its node bound it; using ${PORTS[0]}-${PORTS[2]}"
    done
    known="$(cli "${PORTS[0]}" cluster info | sed -n 's/^cluster_known_nodes:\([0-9]*\).*/\1/p')"
    if [[ "$known" != 3 ]]; then
        log "joining ${PORTS[*]} into one cluster"
        local hosts=()
        for p in "${PORTS[@]}"; do
            # A node left over from an interrupted join must be empty to be joined again.
            cli "$p" flushall >/dev/null || true
            cli "$p" cluster reset hard >/dev/null || true
            hosts+=("127.0.0.1:$p")
        done
        redis-cli --cluster create "${hosts[@]}" --cluster-replicas 0 --cluster-yes </dev/null >/dev/null \
            || die "redis-cli --cluster create failed"
    fi
    local deadline=$((SECONDS + START_TIMEOUT))
    until cluster_ok; do
        (( SECONDS < deadline )) || die "cluster on ${PORTS[*]} not ok after ${START_TIMEOUT}s"
        sleep 0.2
    done
    write_env
    log "ready: REDIS_CLUSTER_URL=$(cluster_url)"
}

cmd_stop() {
    # Every node this checkout started, whatever ports it ended up on.
    local d ports=()
    for d in "$DIR"/*/; do
        if [[ "$(basename "$d")" =~ ^[0-9]+$ ]]; then ports+=("$(basename "$d")"); fi
    done
    stop_nodes "${ports[@]}"
    rm -f "$ENV_FILE"
}

cmd_status() {
    local p pid ok=0
    for p in "${PORTS[@]}"; do
        if pid="$(node_pid "$p")" && node_up "$p"; then
            echo "node $p: running (pid $pid), data $DIR/$p"
        else
            echo "node $p: stopped"
            ok=3
        fi
    done
    if cluster_ok; then echo "cluster: ok ($(cluster_url))"; else echo "cluster: not ok"; ok=3; fi
    return $ok
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
