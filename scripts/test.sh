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

# The dashboard test drives a real headless Chromium through chromedriver;
# it fails (never skips) without them, so install Debian's packages here.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    if [[ "$(id -u)" -eq 0 ]]; then
        echo "test.sh: installing chromium and chromium-driver (apt-get)" >&2
        apt-get update >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver </dev/null >&2
    else
        echo "test.sh: the dashboard test needs chromium and chromedriver:" >&2
        echo "    sudo apt-get install -y chromium chromium-driver" >&2
        exit 1
    fi
fi

# The integration tests exec the built binary ($CARGO_TARGET_DIR, default
# target/, then debug/sitejobs): cargo and the tests both honour CARGO_TARGET_DIR.
# The tests run in tests/, so a relative one is made absolute first.
if [[ -n "${CARGO_TARGET_DIR:-}" && "$CARGO_TARGET_DIR" != /* ]]; then
    export CARGO_TARGET_DIR="$ROOT/$CARGO_TARGET_DIR"
fi
cargo build -p sitejobs
# squawk over the SQL every migration sends (captured from a real run).
bash scripts/lint-migrations.sh
exec cargo test --workspace "$@"
