//! Integrations: personal API tokens (hashed, scoped, expiring), outbound webhook endpoints and
//! their deliveries, and the admin's setting that lets webhooks reach private networks.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{add_columns, index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000030_integrations"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("api_tokens")
                .col(big_pk_auto("id"))
                .col(big_integer("user_id"))
                .col(string_len("name", 100))
                // The token's first characters, to tell tokens apart in lists.
                .col(string_len("prefix", 16))
                // SHA-256 of the token, hex: the token itself is shown once and never stored.
                .col(string_len_uniq("token_hash", 64))
                // Space-separated, e.g. "orders:read services:write".
                .col(text("scopes"))
                .col(ts("expires_at"))
                .col(timestamp_with_time_zone_null("last_used_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .col(ts("created_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("api_tokens", "user_id")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        index(m, "api_tokens", &["user_id"], false).await?;

        m.create_table(
            Table::create()
                .table("webhook_endpoints")
                .col(big_pk_auto("id"))
                .col(text("url"))
                .col(string_len("description", 200))
                // Space-separated event types.
                .col(text("events"))
                .col(string_len("secret", 64))
                // The secret before the last rotation, accepted by receivers until it expires.
                .col(string_len_null("previous_secret", 64))
                .col(timestamp_with_time_zone_null("previous_secret_expires_at"))
                .col(boolean("enabled").default(true))
                .col(string_len_null("disabled_reason", 300))
                // The first failure since the last success: three days of it disable the endpoint.
                .col(timestamp_with_time_zone_null("failing_since"))
                .col(big_integer_null("created_by"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("webhook_endpoints", "created_by")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("webhook_deliveries")
                .col(big_pk_auto("id"))
                .col(big_integer("endpoint_id"))
                // The event's id (`evt_…`), the same in every attempt and resend.
                .col(string_len("event_id", 40))
                .col(string_len("event_type", 60))
                // The JSON body as sent, byte for byte.
                .col(text("payload"))
                // pending, succeeded, failed
                .col(string_len("status", 20))
                .col(integer("attempts").default(0))
                .col(timestamp_with_time_zone_null("last_attempt_at"))
                .col(timestamp_with_time_zone_null("next_attempt_at"))
                .col(integer_null("response_code"))
                // The first KB of the last answer, or why there was none.
                .col(text_null("response_body"))
                .col(big_integer_null("duration_ms"))
                .col(ts("created_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("webhook_deliveries", "endpoint_id")
                        .to("webhook_endpoints", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // An endpoint's log, newest first.
        index(m, "webhook_deliveries", &["endpoint_id", "id"], false).await?;

        add_columns(
            m,
            "agency_settings",
            [boolean("webhooks_private_networks")
                .default(false)
                .to_owned()],
        )
        .await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
