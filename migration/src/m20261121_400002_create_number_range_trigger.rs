use sea_orm_migration::prelude::*;

/// Step 2 of 4: keep `number_range` equal to `int4range(number_start, number_end, '[]')`
/// for every writer. The write-up overrode Django's `save()` and `bulk_create()`,
/// which misses queryset `update()` and any SQL from other programs; a
/// `BEFORE INSERT OR UPDATE` row trigger sees them all (ORM insert, insert_many,
/// ORM update, `update_many`, `INSERT ... ON CONFLICT DO UPDATE`, psql).
///
/// `number_end = 2147483647` is rejected with a clear check violation (its
/// inclusive range does not fit `int4range`, whose own error would only say
/// "integer out of range"); a row with `number_start > number_end` gets a null
/// range so the table's own check constraint reports it as before.
#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE OR REPLACE FUNCTION my_numbers_sync_number_range() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.number_end = 2147483647 THEN
        RAISE EXCEPTION 'my_numbers.number_end must be below 2147483647 (id %)', NEW.id
            USING ERRCODE = 'check_violation',
                  HINT = 'the inclusive range [number_start, 2147483647] does not fit int4range';
    END IF;
    IF NEW.number_start <= NEW.number_end THEN
        NEW.number_range := int4range(NEW.number_start, NEW.number_end, '[]');
    ELSE
        -- left to the check constraint my_numbers_start_le_end, which rejects the row
        NEW.number_range := NULL;
    END IF;
    RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS my_numbers_sync_number_range ON my_numbers;
CREATE TRIGGER my_numbers_sync_number_range
    BEFORE INSERT OR UPDATE ON my_numbers
    FOR EACH ROW EXECUTE FUNCTION my_numbers_sync_number_range();
"#;

const DOWN: &str = r#"
DROP TRIGGER IF EXISTS my_numbers_sync_number_range ON my_numbers;
DROP FUNCTION IF EXISTS my_numbers_sync_number_range();
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // Triggers and plpgsql functions have no sea-query builder; several
        // statements in one string need the simple (unprepared) protocol.
        db.execute_unprepared(UP).await.map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // As in `up`: no builder, several statements.
        db.execute_unprepared(DOWN).await.map(|_| ())
    }
}
