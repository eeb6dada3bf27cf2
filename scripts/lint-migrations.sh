#!/usr/bin/env bash
# squawk (the PostgreSQL migration linter) over the SQL every migration sends.
#
# The SQL is captured from a real `sitejobs migrate up` on a scratch database,
# not rebuilt by hand: sea-query statements, the raw SQL of the trigger and
# the concurrent index, and the online rule's `SET LOCAL lock_timeout` all
# show up exactly as the server receives them. We turn on sqlx's own
# statement log (SITEJOBS_LOG=sqlx::query=debug) with JSON log lines, and
# scripts/split-migration-sql.py cuts it into one file per migration between
# the runner's "applying"/"applied" events. (PostgreSQL's log_statement would
# do too, but needs superuser and a server log we may not read; a dry run
# cannot answer the catalog lookups some migrations make.)
#
# A rule that fires is fixed in the migration, or allowed there by a line
#   // squawk-ignore-file RULE: reason
# in its .rs file, which becomes `-- squawk-ignore-file RULE` in its SQL file.
#
# Needs DATABASE_URL (any database on the server: the scratch one is created
# beside it and dropped) and target/debug/sitejobs (scripts/test.sh builds it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

SQUAWK_VERSION=2.70.0
: "${DATABASE_URL:?lint-migrations.sh: set DATABASE_URL (scripts/test.sh does)}"
BIN="${SITEJOBS_BIN:-target/debug/sitejobs}"
[[ -x "$BIN" ]] || { echo "lint-migrations.sh: $BIN is missing: cargo build -p sitejobs" >&2; exit 1; }

if ! command -v squawk >/dev/null 2>&1; then
    echo "lint-migrations.sh: installing squawk-cli $SQUAWK_VERSION (pip)" >&2
    python3 -m pip install --quiet --disable-pip-version-check "squawk-cli==$SQUAWK_VERSION" >&2
    hash -r
fi

PSQL="$(command -v psql 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1 || true)"
[[ -n "$PSQL" ]] || { echo "lint-migrations.sh: psql not found" >&2; exit 1; }

SCRATCH="sitejobs_lint_$$"
# DATABASE_URL with its database name replaced (keeps any ?query).
base="${DATABASE_URL%%\?*}"
query="${DATABASE_URL#"$base"}"
SCRATCH_URL="${base%/*}/$SCRATCH$query"
OUT="target/migration-sql"
LOG="$(mktemp)"

cleanup() {
    "$PSQL" -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $SCRATCH WITH (FORCE)" >/dev/null 2>&1 || true
    rm -f "$LOG"
}
trap cleanup EXIT

"$PSQL" -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "CREATE DATABASE $SCRATCH" >/dev/null
SITEJOBS_LOG='warn,sqlx::query=debug,service::deploy=info' \
    "$BIN" --database-url "$SCRATCH_URL" --log-format json migrate up >/dev/null 2>"$LOG" || {
    echo "lint-migrations.sh: migrate up on the scratch database failed:" >&2
    grep -v '"target":"sqlx::query"' "$LOG" | tail -n 5 >&2
    exit 1
}
rm -rf "$OUT"
python3 scripts/split-migration-sql.py "$LOG" "$OUT" migration/src

# The contract supports PostgreSQL 13 and later.
squawk --pg-version 13 --reporter gcc "$OUT"/*.sql
echo "lint-migrations.sh: squawk passed on $(ls "$OUT"/*.sql | wc -l) migrations" >&2
