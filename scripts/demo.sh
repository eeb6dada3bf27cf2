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
# Wherever cargo put it: CARGO_TARGET_DIR, build.target-dir, or target/.
TARGET_DIR="$(cargo metadata --no-deps --format-version 1 | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
BIN="${TARGET_DIR:-$ROOT/target}/release/sitejobs"

step "sitejobs migrate up"
"$BIN" migrate up

step "sitejobs migrate status"
"$BIN" migrate status

step "sitejobs seed --scale small (deterministic synthetic data in every table)"
"$BIN" seed --scale small --seed 42

step "each job once on the seeded data (one JSON line each)"
"$BIN" run denormalize-profiles --all
"$BIN" run refresh-autocomplete
"$BIN" autocomplete suggest "the" --limit 5
"$BIN" run purge-emails --retention-days 14
"$BIN" run daily-impressions
"$BIN" run backfill-number-ranges
"$BIN" numbers overlap --start 5000 --end 5010 --strategy range | head -n 5
"$BIN" runs --limit 10

step "sitejobs bench --scale small: naive vs optimized, each run in a child process"
"$BIN" bench --scale small --repeat 1
