#!/usr/bin/env bash
# End-to-end demo: services up, release build, migrations, then a small
# benchmark if the binary has one.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

if ! command -v cargo >/dev/null 2>&1 && [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]]; then
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi

# Services: use DATABASE_URL/REDIS_URL if both are set, else the dev services.
if [[ -n "${DATABASE_URL:-}" && -n "${REDIS_URL:-}" ]]; then
    echo "demo.sh: using DATABASE_URL and REDIS_URL from the environment" >&2
else
    scripts/dev-services.sh start
    # shellcheck source=/dev/null
    source .dev/env
fi
export DATABASE_URL REDIS_URL

step() { printf '\n==> %s\n' "$*" >&2; }

step "cargo build --release -p sitejobs"
cargo build --release -p sitejobs
BIN=target/release/sitejobs

step "sitejobs migrate up"
"$BIN" migrate up

step "sitejobs migrate status"
"$BIN" migrate status

# Capture first: `--help | grep -q` under pipefail can fail on SIGPIPE.
HELP="$("$BIN" --help)"
if grep -q bench <<<"$HELP"; then
    step "sitejobs bench --scale small"
    "$BIN" bench --scale small
else
    step "no bench subcommand yet; done"
fi
