#!/usr/bin/env bash
# Private PostgreSQL + Redis for developing, testing and benchmarking sitejobs.
#
#   scripts/dev-services.sh start    # install if needed, start both, write .dev/env
#   scripts/dev-services.sh stop     # stop what this script started (the cluster's nodes too)
#   scripts/dev-services.sh status   # print both states (exit 0 only if both are up)
#   scripts/dev-services.sh env      # print the export lines:
#                                    #   eval "$(scripts/dev-services.sh env)"
#
# Ports: SITEJOBS_PG_PORT (default 55432), SITEJOBS_REDIS_PORT (default 56379).
# Both servers listen on 127.0.0.1 only. When a default port is held by
# something that is not this checkout's server (another checkout's cluster, a
# system Redis), the next free port is used and written to .dev/env; a port
# set explicitly and held by someone else stops the script, naming the holder.
# The ports last used (in .dev/env) are tried first, so they stay stable.
# A port taken between that check and the server's bind (a client's own end
# of a connection, in the ephemeral range) moves the server to the next one.
#
# Where the data lives:
#   * not root: .dev/data/ inside the project (git-ignored);
#   * root: PostgreSQL refuses to run as root, so the cluster runs as the
#     unprivileged `postgres` user, which may not be able to traverse the
#     project path; the data then lives in ${TMPDIR:-/tmp}/sitejobs-dev-<hash of
#     the project path>, and .dev/data is a symlink to it.
#
# Progress messages go to stderr; `env` prints to stdout.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
DEV_DIR="$ROOT/.dev"
ENV_FILE="$DEV_DIR/env"

# shellcheck source=ports.sh
source "$ROOT/scripts/ports.sh"
PG_PORT_EXPLICIT="${SITEJOBS_PG_PORT:+1}"
REDIS_PORT_EXPLICIT="${SITEJOBS_REDIS_PORT:+1}"
PG_PORT="${SITEJOBS_PG_PORT:-$(env_port "$ENV_FILE" DATABASE_URL)}"
PG_PORT="${PG_PORT:-55432}"
REDIS_PORT="${SITEJOBS_REDIS_PORT:-$(env_port "$ENV_FILE" REDIS_URL)}"
REDIS_PORT="${REDIS_PORT:-56379}"
PG_USER=sitejobs          # database role (initdb superuser)
PG_DB=sitejobs
START_TIMEOUT=60          # seconds

log() { printf 'dev-services: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ "$PG_PORT" =~ ^[0-9]+$ ]] || die "SITEJOBS_PG_PORT must be a number, got '$PG_PORT'"
[[ "$REDIS_PORT" =~ ^[0-9]+$ ]] || die "SITEJOBS_REDIS_PORT must be a number, got '$REDIS_PORT'"

IS_ROOT=0
[[ "$(id -u)" -eq 0 ]] && IS_ROOT=1

# --- data locations ---------------------------------------------------------

tmp_data_dir() {
    local hash
    hash="$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
    printf '%s/sitejobs-dev-%s' "${TMPDIR:-/tmp}" "$hash"
}

if [[ $IS_ROOT -eq 1 ]]; then
    DATA="$(tmp_data_dir)"
else
    DATA="$DEV_DIR/data"
    # Unix socket paths are limited to ~107 bytes; fall back to the temp dir.
    if (( ${#DATA} + 20 > 100 )); then
        DATA="$(tmp_data_dir)"
    fi
fi
PGDATA_DIR="$DATA/pg"            # the cluster
PG_RUN="$DATA/pg-run"            # unix socket + server log
PG_LOG="$PG_RUN/postgres.log"
HUGE_ADDED="$PG_RUN/hugepages-added"  # huge pages this cluster let the kernel hand out
REDIS_DIR="$DATA/redis"          # pidfile, log, (unused) dump dir
REDIS_PID="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"

database_url_value() { printf 'postgres://%s@127.0.0.1:%s/%s' "$PG_USER" "$PG_PORT" "$PG_DB"; }
redis_url_value() { printf 'redis://127.0.0.1:%s/' "$REDIS_PORT"; }

# --- ports ------------------------------------------------------------------

# Whether something accepts TCP connections on 127.0.0.1:$1.

# Who listens on port $1, as "name (pid N)" when ss can tell.
port_holder() {
    local line
    line="$(ss -ltnpH "( sport = :$1 )" 2>/dev/null | head -n1 || true)"
    if [[ "$line" =~ users:\(\(\"([^\"]+)\",pid=([0-9]+) ]]; then
        printf '%s (pid %s)' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    else
        printf 'another process'
    fi
}

# The first port from $1 upwards that nobody listens on.
free_port_from() {
    local p="$1"
    while port_busy "$p"; do
        p=$((p + 1))
        (( p < 65535 )) || die "no free port above $1"
    done
    printf '%s' "$p"
}

# Keeps the port of variable $1 (PG_PORT / REDIS_PORT) if free, else moves it
# to a free one; an explicitly set port held by someone else is an error.
# $2: the server's name, $3: whether the port was set explicitly, $4: its variable.
claim_port() {
    local var="$1" what="$2" explicit="$3" setting="$4" port holder next
    port="${!var}"
    port_busy "$port" || return 0
    holder="$(port_holder "$port")"
    if [[ -n "$explicit" ]]; then
        die "$what: port $port ($setting) is held by $holder, not this checkout's $what; stop it or choose another $setting"
    fi
    next="$(free_port_from $((port + 1)))"
    log "$what: port $port is held by $holder, not this checkout's $what; using $next (written to .dev/env)"
    printf -v "$var" '%s' "$next"
}

# Whether the server's log $1 (from byte $2 on, default all) says it could
# not bind its port. (grep reads to the end: with pipefail, `grep -q` quitting
# early would fail the pipe.) Between the
# check in claim_port and the server's bind, another socket can take a free
# port: the defaults lie in Linux's ephemeral range (32768-60999), so a
# client's own end of any connection may be using it.
port_taken_at_start() {
    tail -c +"$(( ${2:-0} + 1 ))" "$1" 2>/dev/null \
        | grep -E "could not bind IPv4 address|Could not create server TCP listening socket" >/dev/null
}

# Moves the port of variable $1 to the next free one, after a failed bind; $2: the server.
move_port() {
    local var="$1" what="$2" next
    next="$(free_port_from $((${!var} + 1)))"
    log "$what: port ${!var} was taken as it started; using $next (written to .dev/env)"
    printf -v "$var" '%s' "$next"
}

# --- binaries ---------------------------------------------------------------

PG_BIN=""
find_pg_bin() {
    PG_BIN=""
    local d p v
    # An existing cluster runs only with its own major version's binaries.
    if [[ -f "$PGDATA_DIR/PG_VERSION" ]]; then
        v="$(tr -dc '0-9.' <"$PGDATA_DIR/PG_VERSION")"
        d="/usr/lib/postgresql/$v/bin"
        if [[ -x "$d/pg_ctl" && -x "$d/postgres" ]]; then
            PG_BIN="$d"
            return 0
        fi
        if p="$(command -v pg_ctl 2>/dev/null)" && [[ "$("$p" --version 2>/dev/null)" =~ \ $v[.\ ] ]]; then
            PG_BIN="$(dirname "$(readlink -f "$p")")"
            return 0
        fi
        return 1
    fi
    # newest /usr/lib/postgresql/<version>/bin first
    while IFS= read -r d; do
        if [[ -x "$d/pg_ctl" && -x "$d/initdb" && -x "$d/postgres" ]]; then
            PG_BIN="$d"
            return 0
        fi
    done < <(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r)
    local p
    if p="$(command -v pg_ctl 2>/dev/null)" && command -v initdb >/dev/null 2>&1; then
        PG_BIN="$(dirname "$(readlink -f "$p")")"
        return 0
    fi
    return 1
}

# A PostgreSQL client tool: same dir as the server first, then PATH.
pg_tool() {
    if [[ -n "$PG_BIN" && -x "$PG_BIN/$1" ]]; then
        printf '%s' "$PG_BIN/$1"
    else
        command -v "$1" 2>/dev/null || die "$1 not found"
    fi
}

have_redis() { command -v redis-server >/dev/null 2>&1; }

ensure_installed() {
    # Only what is missing: `apt-get install postgresql` on a box that has it
    # would upgrade (and restart) the installed server.
    local pkgs=()
    if [[ -f "$PGDATA_DIR/PG_VERSION" ]] && ! find_pg_bin; then
        local v
        v="$(tr -dc '0-9.' <"$PGDATA_DIR/PG_VERSION")"
        die "the cluster in $PGDATA_DIR is PostgreSQL $v, whose server binaries are not installed: install postgresql-$v, or remove $PGDATA_DIR to start afresh"
    fi
    find_pg_bin || pkgs+=(postgresql)
    have_redis || pkgs+=(redis-server)
    [[ ${#pkgs[@]} -eq 0 ]] && return 0

    if [[ $IS_ROOT -ne 1 ]]; then
        log "missing: ${pkgs[*]}. Install with:"
        printf '    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y %s\n' "${pkgs[*]}" >&2
        log "(or export DATABASE_URL and REDIS_URL pointing at existing servers)"
        exit 1
    fi
    log "installing ${pkgs[*]} (apt-get)..."
    # Note: the Debian packages may start their own cluster on 5432 / redis on
    # 6379. Harmless: we never use them.
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}" </dev/null >&2
    find_pg_bin || die "PostgreSQL server binaries still not found after installing ${pkgs[*]}"
    have_redis || die "redis-server still not found after installing ${pkgs[*]}"
}

# --- running things as the cluster's OS user -------------------------------

PG_OS_USER=""
ensure_pg_os_user() {
    [[ $IS_ROOT -eq 1 ]] || return 0
    if id postgres >/dev/null 2>&1; then
        PG_OS_USER=postgres
    else
        PG_OS_USER=sitejobs-pg
        if ! id "$PG_OS_USER" >/dev/null 2>&1; then
            log "creating unprivileged system user $PG_OS_USER"
            useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_OS_USER"
        fi
    fi
}

# Run a PostgreSQL server-side command (initdb, pg_ctl) as the cluster owner.
# `cd /` because the caller's cwd may not be reachable by that user.
as_pg() {
    if [[ $IS_ROOT -eq 1 ]]; then
        [[ -n "$PG_OS_USER" ]] || ensure_pg_os_user
        (cd / && runuser -u "$PG_OS_USER" -- "$@")
    else
        "$@"
    fi
}

# --- data area --------------------------------------------------------------

prepare_data_area() {
    mkdir -p "$DEV_DIR"
    if [[ "$DATA" != "$DEV_DIR/data" ]]; then
        # Data in the shared temp dir: refuse anything that isn't ours.
        if [[ -L "$DATA" ]]; then die "$DATA is a symlink; refusing to use it"; fi
        mkdir -p -m 0755 "$DATA"
        [[ "$(stat -c %u "$DATA")" == "$(id -u)" ]] || die "$DATA is not owned by $(id -un)"
        chmod 0755 "$DATA"
        # Point .dev/data at it so it's easy to find.
        if [[ -L "$DEV_DIR/data" || ! -e "$DEV_DIR/data" ]]; then
            ln -sfn "$DATA" "$DEV_DIR/data"
        fi
    fi
    mkdir -p "$PGDATA_DIR" "$PG_RUN" "$REDIS_DIR"
    if [[ $IS_ROOT -eq 1 ]]; then
        chown "$PG_OS_USER:" "$PGDATA_DIR" "$PG_RUN"
    fi
    chmod 0700 "$PGDATA_DIR"
}

# --- PostgreSQL -------------------------------------------------------------

pg_running() {
    [[ -f "$PGDATA_DIR/PG_VERSION" ]] || return 1
    [[ -n "$PG_BIN" ]] || find_pg_bin || return 1
    as_pg "$PG_BIN/pg_ctl" status -D "$PGDATA_DIR" >/dev/null 2>&1
}

pg_locale() {
    if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then
        printf 'C.UTF-8'
    else
        printf 'C'
    fi
}

# Small /dev/shm (e.g. Docker's 64MB default) breaks parallel queries with
# posix dynamic shared memory; use files in the data dir instead then.
dsm_type() {
    local kb
    kb="$(df -Pk /dev/shm 2>/dev/null | awk 'NR==2 {print $2}')"
    if [[ -n "$kb" && "$kb" -ge 1048576 ]]; then printf 'posix'; else printf 'mmap'; fi
}

write_pg_conf() {
    # THROWAWAY DEV/BENCH CLUSTER. fsync, synchronous_commit and
    # full_page_writes are off: a crash of the machine can corrupt or lose
    # this cluster. Never copy these settings to a real server.
    # Regenerated on every start so changes here take effect on restart.
    local conf="$PGDATA_DIR/sitejobs-dev.conf"
    local tmp
    tmp="$(mktemp)"
    cat >"$tmp" <<EOF
# Generated by scripts/dev-services.sh on every start; edits are overwritten.
# Throwaway dev/bench cluster: durability is deliberately disabled.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_RUN'
max_connections = 300
shared_buffers = 1GB
huge_pages = try
maintenance_work_mem = 512MB
work_mem = 32MB
max_wal_size = 4GB
fsync = off
synchronous_commit = off
full_page_writes = off
dynamic_shared_memory_type = $(dsm_type)
log_min_duration_statement = -1
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    if [[ $IS_ROOT -eq 1 ]]; then chown "$PG_OS_USER:" "$tmp"; fi
    chmod 0600 "$tmp"
    mv -f "$tmp" "$conf"
    if ! grep -q "^include_if_exists = 'sitejobs-dev.conf'" "$PGDATA_DIR/postgresql.conf"; then
        printf "\n# sitejobs dev settings (see scripts/dev-services.sh)\ninclude_if_exists = 'sitejobs-dev.conf'\n" \
            >>"$PGDATA_DIR/postgresql.conf"
    fi
}

# Huge pages: with shared memory in 2 MB pages, a new server process (every
# `sitejobs run` opens one) touches shared_buffers without a page fault per
# 4 kB page, which is most of what a short run pays for being a new process
# (docs/development.md). huge_pages = try uses them when the kernel has them.
# As root the script lets the kernel hand out as many as this cluster needs,
# on demand (vm.nr_overcommit_hugepages, raised by that number here, lowered
# by the same number on stop): nothing is reserved, and they go back to the
# kernel when the server stops. Not root, or a kernel that says no: 4 kB pages.
OVERCOMMIT_HUGE=/proc/sys/vm/nr_overcommit_hugepages
hugepages_allow() {
    [[ $IS_ROOT -eq 1 && -f "$OVERCOMMIT_HUGE" && ! -f "$HUGE_ADDED" ]] || return 0
    local need now
    need="$(as_pg "$PG_BIN/postgres" -D "$PGDATA_DIR" -C shared_memory_size_in_huge_pages 2>/dev/null)" || return 0
    [[ "$need" =~ ^[0-9]+$ ]] && (( need > 0 )) || return 0
    now="$(cat "$OVERCOMMIT_HUGE")"
    if (echo $((now + need)) >"$OVERCOMMIT_HUGE") 2>/dev/null; then
        echo "$need" >"$HUGE_ADDED"
    fi
}

hugepages_return() {
    [[ -f "$HUGE_ADDED" ]] || return 0
    local added now
    added="$(cat "$HUGE_ADDED")"
    now="$(cat "$OVERCOMMIT_HUGE" 2>/dev/null || echo 0)"
    if [[ "$added" =~ ^[0-9]+$ && "$now" =~ ^[0-9]+$ ]]; then
        (echo $((now > added ? now - added : 0)) >"$OVERCOMMIT_HUGE") 2>/dev/null || true
    fi
    rm -f "$HUGE_ADDED"
}

# "huge pages" or "4 kB pages": how the running server maps its shared memory.
pg_page_kind() {
    local pid kb
    pid="$(head -n1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true)"
    kb="$(sed -n 's/^HugetlbPages:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null || true)"
    if [[ -n "$kb" ]] && (( kb > 0 )); then printf 'huge pages'; else printf '4 kB pages'; fi
}

pg_start() {
    if [[ ! -f "$PGDATA_DIR/PG_VERSION" ]]; then
        log "initdb: new cluster in $PGDATA_DIR"
        as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -U "$PG_USER" --auth=trust \
            -E UTF8 --locale="$(pg_locale)" --no-sync --no-instructions >"$PG_RUN/initdb.log" 2>&1 \
            || { cat "$PG_RUN/initdb.log" >&2; die "initdb failed"; }
    fi
    if pg_running; then
        local port
        port="$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$PGDATA_DIR/sitejobs-dev.conf" 2>/dev/null || true)"
        [[ -n "$port" ]] && PG_PORT="$port"
        log "postgres: already running on 127.0.0.1:$PG_PORT (data $PGDATA_DIR)"
    else
        claim_port PG_PORT postgres "$PG_PORT_EXPLICIT" SITEJOBS_PG_PORT
        local retries=3 from
        while true; do
            write_pg_conf
            hugepages_allow
            log "postgres: starting on 127.0.0.1:$PG_PORT (log $PG_LOG)"
            from=0
            [[ -f "$PG_LOG" ]] && from="$(wc -c <"$PG_LOG")"
            if as_pg "$PG_BIN/pg_ctl" start -D "$PGDATA_DIR" -l "$PG_LOG" -w -t "$START_TIMEOUT" >/dev/null 2>&1; then
                log "postgres: shared memory in $(pg_page_kind)"
                break
            fi
            if [[ -z "$PG_PORT_EXPLICIT" ]] && (( retries-- > 0 )) && port_taken_at_start "$PG_LOG" "$from"; then
                move_port PG_PORT postgres
                continue
            fi
            tail -n 30 "$PG_LOG" >&2 || true
            hugepages_return
            die "postgres failed to start (is port $PG_PORT taken? see $PG_LOG)"
        done
    fi

    local isready deadline
    isready="$(pg_tool pg_isready)"
    deadline=$((SECONDS + START_TIMEOUT))
    until "$isready" -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres; do
        (( SECONDS < deadline )) || die "postgres not accepting connections on 127.0.0.1:$PG_PORT after ${START_TIMEOUT}s"
        sleep 0.3
    done

    local psql
    psql="$(pg_tool psql)"
    if [[ "$("$psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
            "select 1 from pg_database where datname = '$PG_DB'")" != 1 ]]; then
        log "postgres: creating database $PG_DB"
        "$psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres \
            -v ON_ERROR_STOP=1 -c "create database \"$PG_DB\"" >&2
    fi
}

pg_stop() {
    if pg_running; then
        log "postgres: stopping"
        as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t "$START_TIMEOUT" >/dev/null
    else
        log "postgres: not running"
    fi
    hugepages_return
}

# --- Redis ------------------------------------------------------------------

redis_pid() {
    # Prints the pid if our pidfile names a live redis-server process.
    local pid
    [[ -f "$REDIS_PID" ]] || return 1
    pid="$(tr -dc '0-9' <"$REDIS_PID")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q redis || return 1
    printf '%s' "$pid"
}

redis_ping() {
    if command -v redis-cli >/dev/null 2>&1; then
        [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
    else
        # Plain bash probe: send an inline PING, expect +PONG.
        (
            exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT" || exit 1
            printf 'PING\r\n' >&3
            IFS= read -r -t 2 reply <&3 || exit 1
            [[ "$reply" == +PONG* ]]
        ) 2>/dev/null
    fi
}

# The port our redis-server process listens on (from its process title).
redis_pid_port() {
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -o '127\.0\.0\.1:[0-9]*' | head -n1 | cut -d: -f2 || true
}

# Whether process $1 is the one listening on $REDIS_PORT (when ss can tell).
redis_listener_is() {
    local line
    line="$(ss -ltnpH "( sport = :$REDIS_PORT )" 2>/dev/null || true)"
    [[ "$line" != *users:* || "$line" == *"pid=$1,"* ]]
}

# Starts redis-server on $REDIS_PORT, in the background; redis_start waits for it.
redis_spawn() {
    log "redis: starting on 127.0.0.1:$REDIS_PORT (log $REDIS_LOG)"
    rm -f "$REDIS_PID"
    : >"$REDIS_LOG"
    # Bound to loopback only, so protected mode has nothing to protect.
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode no \
        --daemonize yes --pidfile "$REDIS_PID" --logfile "$REDIS_LOG" \
        --dir "$REDIS_DIR" --save '' --appendonly no >/dev/null \
        || die "redis-server failed to start (see $REDIS_LOG)"
}

redis_start() {
    local pid port
    if pid="$(redis_pid)" && port="$(redis_pid_port "$pid")" && [[ -n "$port" ]]; then
        REDIS_PORT="$port"
        log "redis: already running (pid $pid) on 127.0.0.1:$REDIS_PORT"
    else
        claim_port REDIS_PORT redis "$REDIS_PORT_EXPLICIT" SITEJOBS_REDIS_PORT
        redis_spawn
    fi
    # Ready means *our* process answers: another Redis on the port must not pass for it.
    local deadline=$((SECONDS + START_TIMEOUT)) retries=3
    until pid="$(redis_pid)" && redis_listener_is "$pid" && redis_ping; do
        if port_taken_at_start "$REDIS_LOG"; then
            if [[ -z "$REDIS_PORT_EXPLICIT" ]] && (( retries-- > 0 )); then
                move_port REDIS_PORT redis
                redis_spawn
                deadline=$((SECONDS + START_TIMEOUT))
                continue
            fi
            SECONDS=$deadline
        fi
        if (( SECONDS >= deadline )); then
            tail -n 20 "$REDIS_LOG" >&2 || true
            if port_busy "$REDIS_PORT"; then
                die "redis: port $REDIS_PORT is held by $(port_holder "$REDIS_PORT"), not this checkout's redis-server (see $REDIS_LOG)"
            fi
            die "redis not answering on 127.0.0.1:$REDIS_PORT after ${START_TIMEOUT}s (see $REDIS_LOG)"
        fi
        sleep 0.2
    done
}

redis_stop() {
    local pid
    if pid="$(redis_pid)"; then
        log "redis: stopping (pid $pid)"
        kill -TERM "$pid"
        local deadline=$((SECONDS + 30))
        while kill -0 "$pid" 2>/dev/null; do
            (( SECONDS < deadline )) || { kill -KILL "$pid" 2>/dev/null || true; break; }
            sleep 0.1
        done
        rm -f "$REDIS_PID"
    else
        log "redis: not running"
    fi
}

# --- env file ---------------------------------------------------------------

write_env() {
    mkdir -p "$DEV_DIR"
    cat >"$ENV_FILE" <<EOF
# Written by scripts/dev-services.sh start; load with: source .dev/env
export DATABASE_URL=$(database_url_value)
export REDIS_URL=$(redis_url_value)
EOF
}

# --- commands ---------------------------------------------------------------

# After a start that failed ($1 its exit status): stops the servers it started
# itself ($2, $3, $4: whether PostgreSQL, Redis and the cluster ran before it).
undo_start() {
    (( $1 == 0 )) && return 0
    log "start failed: stopping what it started"
    (( $2 == 1 )) || pg_stop || true
    (( $3 == 1 )) || redis_stop || true
    (( $4 == 1 )) || "$ROOT/scripts/redis-cluster.sh" stop || true
}

cmd_start() {
    ensure_installed
    ensure_pg_os_user
    prepare_data_area
    local pg_was=0 redis_was=0 cluster_was=0
    if pg_running; then pg_was=1; fi
    if redis_pid >/dev/null; then redis_was=1; fi
    if "$ROOT/scripts/redis-cluster.sh" status >/dev/null 2>&1; then cluster_was=1; fi
    # shellcheck disable=SC2064  # the states are fixed now; $? when it runs
    trap "undo_start \$? $pg_was $redis_was $cluster_was" EXIT
    pg_start
    redis_start
    write_env
    "$ROOT/scripts/redis-cluster.sh" start  # the cluster tests' three nodes (REDIS_CLUSTER_URL)
    trap - EXIT
    log "ready: DATABASE_URL=$(database_url_value) REDIS_URL=$(redis_url_value)"
    log "load with: source $ENV_FILE"
}

cmd_stop() {
    find_pg_bin || true
    ensure_pg_os_user
    pg_stop
    redis_stop
    "$ROOT/scripts/redis-cluster.sh" stop
}

cmd_status() {
    local ok=0 pid port
    find_pg_bin || true
    ensure_pg_os_user
    # Report the ports the running servers were actually started with.
    port="$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$PGDATA_DIR/sitejobs-dev.conf" 2>/dev/null || true)"
    [[ -n "$port" ]] && PG_PORT="$port"
    if pid="$(redis_pid)"; then
        port="$(tr '\0' ' ' <"/proc/$pid/cmdline" | grep -o '127\.0\.0\.1:[0-9]*' | head -n1 | cut -d: -f2 || true)"
        [[ -n "$port" ]] && REDIS_PORT="$port"
    fi
    if pg_running; then
        pid="$(head -n1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true)"
        echo "postgres: running (pid $pid) on 127.0.0.1:$PG_PORT, data $PGDATA_DIR, shared memory in $(pg_page_kind)"
    else
        echo "postgres: stopped (data $PGDATA_DIR)"
        ok=3
    fi
    if pid="$(redis_pid)" && redis_ping; then
        echo "redis:    running (pid $pid) on 127.0.0.1:$REDIS_PORT, data $REDIS_DIR"
    elif pid="$(redis_pid)"; then
        echo "redis:    process $pid alive but not answering on 127.0.0.1:$REDIS_PORT"
        ok=3
    else
        echo "redis:    stopped"
        ok=3
    fi
    return $ok
}

cmd_env() {
    if [[ -f "$ENV_FILE" ]]; then
        grep '^export ' "$ENV_FILE"
    else
        printf 'export DATABASE_URL=%s\nexport REDIS_URL=%s\n' "$(database_url_value)" "$(redis_url_value)"
    fi
}

usage() {
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
}

[[ $# -eq 1 ]] || usage
case "$1" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    -h|--help|help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) usage ;;
esac
