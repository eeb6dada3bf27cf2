#!/usr/bin/env bash
# Build and run the whole test suite against PostgreSQL + Redis.
#
# Uses DATABASE_URL and REDIS_URL when both are set; otherwise starts the
# private dev services (scripts/dev-services.sh start) and loads .dev/env.
# Uses REDIS_CLUSTER_URL when set; otherwise starts scripts/redis-cluster.sh.
# Extra arguments go to `cargo test`, e.g.  scripts/test.sh -- --nocapture
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

# Non-login shells (CI) may not have rustup's bin dir on PATH.
if ! command -v cargo >/dev/null 2>&1 && [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]]; then
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi

if [[ -n "${DATABASE_URL:-}" && -n "${REDIS_URL:-}" ]]; then
    echo "test.sh: using DATABASE_URL and REDIS_URL from the environment" >&2
else
    scripts/dev-services.sh start
    # shellcheck source=/dev/null
    source .dev/env
fi
export DATABASE_URL REDIS_URL
# The Redis Cluster tests' nodes, also when the other services come from the environment.
if [[ -z "${REDIS_CLUSTER_URL:-}" ]]; then
    scripts/redis-cluster.sh start
    # shellcheck source=/dev/null
    source .dev/redis-cluster.env
fi
export REDIS_CLUSTER_URL

# The integration tests exec the built binary (target/debug/sitejobs).
cargo build -p sitejobs
exec cargo test --workspace "$@"
