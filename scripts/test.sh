#!/usr/bin/env bash
# Build and run the whole test suite against PostgreSQL + Redis.
#
# Uses DATABASE_URL and REDIS_URL when both are set; otherwise starts the
# private dev services (scripts/dev-services.sh start) and loads .dev/env.
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

# The integration tests exec the built binary (target/debug/sitejobs).
cargo build -p sitejobs
# squawk over the SQL every migration sends (captured from a real run).
bash scripts/lint-migrations.sh
exec cargo test --workspace "$@"
