//! A template's billing: one-time (no interval) or recurring every N days, weeks, months or
//! years, with an optional free trial and setup fee; and the recurrence of its synced Stripe
//! Price (prices are immutable, so a new recurrence makes a new Price).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::add_columns;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000012_recurring_templates"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            // day, week, month or year; NULL for a one-time service.
            string_len_null("billing_interval", 8).to_owned(),
            integer("billing_interval_count").default(1).to_owned(),
            integer("trial_days").default(0).to_owned(),
            big_integer("setup_fee_minor").default(0).to_owned(),
            string_len_null("stripe_price_interval", 8).to_owned(),
            integer_null("stripe_price_interval_count").to_owned(),
        ];
        add_columns(m, "service_templates", columns).await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
