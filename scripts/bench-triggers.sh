#!/usr/bin/env bash
# What the change-capture triggers of the incremental jobs cost writers.
#
# Usage: scripts/bench-triggers.sh [ROUNDS]   (DATABASE_URL names a scratch
# database: it is migrated, and every measured write is rolled back.)
#
# For each case it times the same writes with the triggers on and off, in
# turn, ROUNDS times (default 5), inside a transaction that is rolled back, and
# prints the medians as a Markdown table. "Off" disables the tables' user
# triggers (`ALTER TABLE ... DISABLE TRIGGER USER`, foreign keys stay) and, for
# videos, drops the normalised-title index too, both inside the rolled-back
# transaction. Single-row cases run each INSERT (or title UPDATE) as its own
# statement from plpgsql (no network round trip, so the relative overhead is
# an upper bound of what a client sees); bulk cases are one statement. The
# setup adds 100,000 videos for the UPDATE cases to rename.
set -euo pipefail

ROUNDS="${1:-5}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
: "${DATABASE_URL:?set DATABASE_URL to a scratch database}"
BIN="${SITEJOBS_BIN:-$ROOT/target/release/sitejobs}"
[[ -x "$BIN" ]] || BIN="$ROOT/target/debug/sitejobs"

"$BIN" migrate up >/dev/null
psql "$DATABASE_URL" -qAt -v ON_ERROR_STOP=1 <<'SQL'
CREATE OR REPLACE FUNCTION pg_temp.noop() RETURNS void LANGUAGE sql AS 'SELECT';
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM communities WHERE name = 'bench:triggers') THEN
        INSERT INTO communities (name) VALUES ('bench:triggers');
        INSERT INTO groups (name) SELECT 'bench:triggers:' || i FROM generate_series(1, 4) i
            ON CONFLICT (name) DO NOTHING;
        INSERT INTO profiles (community_id, user_id, display_name)
        SELECT (SELECT id FROM communities WHERE name = 'bench:triggers'), i, 'bench'
        FROM generate_series(1, 100000) i;
        INSERT INTO videos (title)
        SELECT 'bench:triggers video ' || i FROM generate_series(1, 100000) i;
        DELETE FROM denorm_profile_changes;
        DELETE FROM autocomplete_changes;
        ANALYZE;
    END IF;
END
$$;
SQL

# One measurement: prints milliseconds. $1 = on|off, $2 = case.
measure() {
    local mode="$1" case="$2" off="" only_index=""
    if [[ "$case" == *-index ]]; then
        # The index alone: triggers off in both runs, the index dropped in the "off" one.
        case="${case%-index}" only_index=1
    fi
    local community="(SELECT id FROM communities WHERE name = 'bench:triggers')"
    local first="(SELECT min(id) FROM profiles WHERE community_id = $community)"
    local group="(SELECT min(id) FROM groups WHERE name LIKE 'bench:triggers:%')"
    local video="(SELECT min(id) FROM videos WHERE title = 'bench:triggers video 1')"
    local body
    case "$case" in
        profiles-single) table=profiles
            body="FOR i IN 1..2000 LOOP INSERT INTO profiles (community_id, user_id, display_name) VALUES (c, i, 'x'); END LOOP;" ;;
        profiles-bulk) table=profiles
            body="INSERT INTO profiles (community_id, user_id, display_name) SELECT c, i, 'x' FROM generate_series(1, 100000) i;" ;;
        profile_groups-single) table=profile_groups
            body="FOR i IN 0..1999 LOOP INSERT INTO profile_groups VALUES (p + i, g); END LOOP;" ;;
        profile_groups-bulk) table=profile_groups
            body="INSERT INTO profile_groups SELECT p + i, g FROM generate_series(0, 99999) i;" ;;
        videos-single) table=videos
            body="FOR i IN 1..2000 LOOP INSERT INTO videos (title) VALUES ('Bench Title ' || i); END LOOP;" ;;
        videos-bulk) table=videos
            body="INSERT INTO videos (title) SELECT 'Bench Title ' || i FROM generate_series(1, 100000) i;" ;;
        videos-update-single) table=videos
            body="FOR i IN 0..1999 LOOP UPDATE videos SET title = title || '!' WHERE id = v + i; END LOOP;" ;;
        videos-update-bulk) table=videos
            body="UPDATE videos SET title = title || '!' WHERE id BETWEEN v AND v + 99999;" ;;
    esac
    if [[ "$mode" == off || -n "$only_index" ]]; then
        off="ALTER TABLE $table DISABLE TRIGGER USER;"
    fi
    if [[ "$mode" == off && "$table" == videos ]]; then
        off="$off DROP INDEX idx_videos_title_normalized;"
    fi
    psql "$DATABASE_URL" -qAt -v ON_ERROR_STOP=1 <<SQL | tail -1
BEGIN;
$off
DO \$\$
DECLARE c bigint := $community; p bigint := $first; g bigint := $group; v bigint := $video;
    t timestamptz;
BEGIN
    t := clock_timestamp();
    $body
    RAISE NOTICE 'ms %', round(extract(epoch FROM clock_timestamp() - t) * 1000, 1);
END
\$\$;
ROLLBACK;
SQL
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "| writes | without | with triggers (and index) | overhead |"
echo "|---|---:|---:|---:|"
for case in profiles-single profiles-bulk profile_groups-single profile_groups-bulk \
    videos-single videos-bulk videos-update-single videos-update-bulk \
    videos-single-index videos-bulk-index; do
    on=() off=()
    for _ in $(seq "$ROUNDS"); do
        off+=("$(measure off "$case" 2>&1 | sed -n 's/.*ms \([0-9.]*\).*/\1/p')")
        on+=("$(measure on "$case" 2>&1 | sed -n 's/.*ms \([0-9.]*\).*/\1/p')")
    done
    m_off="$(printf '%s\n' "${off[@]}" | median)"
    m_on="$(printf '%s\n' "${on[@]}" | median)"
    label="$case"
    case "$case" in
        *-update-single) label="${case%-update-single}: 2,000 single-row title UPDATEs" ;;
        *-update-bulk) label="${case%-update-bulk}: one UPDATE of 100,000 titles" ;;
        *-single) label="${case%-single}: 2,000 single-row INSERTs" ;;
        *-bulk) label="${case%-bulk}: one INSERT of 100,000 rows" ;;
        *-single-index) label="videos, of which the title index alone: 2,000 single-row INSERTs" ;;
        *-bulk-index) label="videos, of which the title index alone: one INSERT of 100,000 rows" ;;
    esac
    awk -v l="$label" -v a="$m_off" -v b="$m_on" \
        'BEGIN { printf "| %s | %.0f ms | %.0f ms | %+.0f%% |\n", l, a, b, (b - a) * 100 / a }'
done
