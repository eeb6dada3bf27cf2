#!/usr/bin/env python3
"""Split `sitejobs --log-format json migrate up` output (with
SITEJOBS_LOG=sqlx::query=debug) into one SQL file per migration.

Usage: split-migration-sql.py LOG.json OUT_DIR MIGRATION_SRC_DIR

Each file holds the statements sent between the runner's "applying" and
"applied" events for that migration, in order, each ending with ';'. Lines
`// squawk-ignore-file RULE: reason` in the migration's Rust source become
`-- squawk-ignore-file RULE` at the top of its file: the allowance and its
reason live in the migration itself.
"""
import json
import os
import re
import sys


def statements(log_path):
    current = None
    with open(log_path, encoding="utf-8") as log:
        for line in log:
            line = line.strip()
            if not line.startswith("{"):
                continue
            event = json.loads(line)
            fields = event.get("fields", {})
            target = event.get("target", "")
            if target == "service::deploy":
                if fields.get("message") == "applying":
                    current = fields.get("migration")
                elif fields.get("message") == "applied":
                    current = None
            elif target == "sqlx::query" and current:
                sql = (fields.get("db.statement") or "").strip()
                if not sql:
                    sql = fields.get("summary", "").strip()
                # sea-orm-migration's own bookkeeping is not the migration's SQL.
                if sql and "seaql_migrations" not in sql:
                    yield current, sql


def ignores(src_dir, migration):
    path = os.path.join(src_dir, migration + ".rs")
    found = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as src:
            for line in src:
                m = re.match(r"\s*//\s*squawk-ignore-file\s+([a-z0-9-]+)\s*:\s*(\S.*)$", line)
                if m:
                    found.append((m.group(1), m.group(2)))
    return found


def main():
    log_path, out_dir, src_dir = sys.argv[1:4]
    os.makedirs(out_dir, exist_ok=True)
    by_migration = {}
    for migration, sql in statements(log_path):
        by_migration.setdefault(migration, []).append(sql)
    if not by_migration:
        sys.exit("split-migration-sql: no migration statements found in " + log_path)
    for migration, sqls in by_migration.items():
        with open(os.path.join(out_dir, migration + ".sql"), "w", encoding="utf-8") as out:
            for rule, reason in ignores(src_dir, migration):
                out.write(f"-- {reason}\n-- squawk-ignore-file {rule}\n")
            # sqlx logs COMMIT but not BEGIN: restore it so squawk sees the transaction.
            if any(sql.upper() == "COMMIT" for sql in sqls):
                sqls = ["BEGIN"] + sqls
            for sql in sqls:
                out.write(sql.rstrip().rstrip(";") + ";\n\n")
    print(f"split-migration-sql: {len(by_migration)} migrations", file=sys.stderr)


if __name__ == "__main__":
    main()
