//! `catalog_version`: one number that every write to `service_templates` raises, by triggers
//! (so no write path, and no instance, can forget it). The store's cache
//! (`catalog::StoreCache`) reads it to know whether what it keeps is still the catalogue.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000010_catalog_version"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE TABLE catalog_version (id INTEGER PRIMARY KEY, version BIGINT NOT NULL)",
        )
        .await?;
        db.execute_unprepared("INSERT INTO catalog_version (id, version) VALUES (1, 0)")
            .await?;
        if m.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(
                "CREATE FUNCTION bump_catalog_version() RETURNS trigger AS $$ BEGIN \
                 UPDATE catalog_version SET version = version + 1 WHERE id = 1; RETURN NULL; \
                 END $$ LANGUAGE plpgsql",
            )
            .await?;
            db.execute_unprepared(
                "CREATE TRIGGER catalog_changed AFTER INSERT OR UPDATE OR DELETE \
                 ON service_templates FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version()",
            )
            .await?;
        } else {
            for event in ["INSERT", "UPDATE", "DELETE"] {
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER catalog_changed_on_{} AFTER {event} ON service_templates \
                     BEGIN UPDATE catalog_version SET version = version + 1 WHERE id = 1; END",
                    event.to_lowercase()
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if m.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared("DROP TRIGGER catalog_changed ON service_templates")
                .await?;
            db.execute_unprepared("DROP FUNCTION bump_catalog_version()")
                .await?;
        } else {
            for event in ["insert", "update", "delete"] {
                db.execute_unprepared(&format!("DROP TRIGGER catalog_changed_on_{event}"))
                    .await?;
            }
        }
        db.execute_unprepared("DROP TABLE catalog_version").await?;
        Ok(())
    }
}
