//! One migration set for SQLite and PostgreSQL. Never edit a migration that has shipped: add one.

use sea_orm_migration::prelude::*;

mod m20261127_000001_foundation;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261127_000001_foundation::Migration)]
    }
}
