//! The agency's own details, printed on its invoices (legal name, address, tax ID, logo,
//! footer), and its billing choices (the default currency, whether prices include tax, Stripe
//! Tax). One row, written when an admin first saves the settings page; until then the defaults
//! come from the configuration. Reading them never writes.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};
use serde_json::json;

use crate::activity::{self, Actor, Subject};
use crate::catalog::search::Synonyms;
use crate::config::Config;
use crate::db::entities::agency_settings::{self, Model as Settings};
use crate::error::{AppResult, FieldErrors};
use crate::money::Currency;

/// The one row's id.
const ID: i32 = 1;
/// The longest address and footer, in characters.
const MAX_TEXT: usize = 1_000;

/// The settings as saved, or the defaults.
pub async fn get<C: ConnectionTrait>(conn: &C, config: &Config) -> Result<Settings, DbErr> {
    Ok(agency_settings::Entity::find_by_id(ID)
        .one(conn)
        .await?
        .unwrap_or_else(|| defaults(config)))
}

/// One setting as saved, if the row exists (one column read).
async fn saved<C: ConnectionTrait, T: sea_orm::TryGetableMany>(
    conn: &C,
    column: agency_settings::Column,
) -> Result<Option<T>, DbErr> {
    use sea_orm::QuerySelect;
    agency_settings::Entity::find_by_id(ID)
        .select_only()
        .column(column)
        .into_tuple::<T>()
        .one(conn)
        .await
}

/// The store search's synonyms as saved (none until an admin writes some).
pub async fn synonyms<C: ConnectionTrait>(conn: &C) -> Result<Synonyms, DbErr> {
    let raw: Option<String> = saved(conn, agency_settings::Column::SearchSynonyms).await?;
    Ok(Synonyms::read(&raw.unwrap_or_default()))
}

/// The currency new client companies pay in (USD until an admin chooses).
pub async fn default_currency<C: ConnectionTrait>(conn: &C) -> Result<Currency, DbErr> {
    Ok(saved(conn, agency_settings::Column::DefaultCurrency)
        .await?
        .unwrap_or_default())
}

fn defaults(config: &Config) -> Settings {
    Settings {
        id: ID,
        legal_name: config.agency_name.clone(),
        address: String::new(),
        tax_id: String::new(),
        invoice_footer: String::new(),
        logo_key: None,
        default_currency: Currency::default(),
        prices_include_tax: false,
        stripe_tax: config.stripe.automatic_tax,
        search_synonyms: String::new(),
        clients_invite: false,
        webhooks_private_networks: false,
        updated_at: Utc::now(),
    }
}

/// The settings form as typed.
#[derive(Clone, Debug, Default)]
pub struct SettingsForm {
    pub legal_name: String,
    pub address: String,
    pub tax_id: String,
    pub invoice_footer: String,
    pub default_currency: String,
    pub prices_include_tax: bool,
    pub stripe_tax: bool,
    /// One group a line: "website = web site = landing page".
    pub search_synonyms: String,
    pub clients_invite: bool,
}

/// What the form says, checked.
#[derive(Clone, Debug)]
pub struct ValidSettings {
    legal_name: String,
    address: String,
    tax_id: String,
    invoice_footer: String,
    default_currency: Currency,
    prices_include_tax: bool,
    stripe_tax: bool,
    search_synonyms: String,
    clients_invite: bool,
}

impl SettingsForm {
    pub fn of(s: &Settings) -> Self {
        Self {
            legal_name: s.legal_name.clone(),
            address: s.address.clone(),
            tax_id: s.tax_id.clone(),
            invoice_footer: s.invoice_footer.clone(),
            default_currency: s.default_currency.code().to_string(),
            prices_include_tax: s.prices_include_tax,
            stripe_tax: s.stripe_tax,
            search_synonyms: s.search_synonyms.clone(),
            clients_invite: s.clients_invite,
        }
    }

    pub fn validate(&self) -> Result<ValidSettings, FieldErrors> {
        let mut errors = FieldErrors::default();
        let legal_name = self.legal_name.trim();
        if legal_name.is_empty() {
            errors.add(
                "legal_name",
                "Enter the agency's legal name (it heads every invoice).",
            );
        } else if legal_name.chars().count() > 200 {
            errors.add("legal_name", "Use at most 200 characters.");
        }
        for (field, text) in [
            ("address", &self.address),
            ("invoice_footer", &self.invoice_footer),
        ] {
            let n = text.trim().chars().count();
            if n > MAX_TEXT {
                errors.add(
                    field,
                    format!("Use at most {MAX_TEXT} characters (this has {n})."),
                );
            }
        }
        let tax_id = self.tax_id.trim();
        if tax_id.chars().count() > 60 {
            errors.add("tax_id", "Use at most 60 characters.");
        }
        let currency = Currency::parse(&self.default_currency);
        if currency.is_none() {
            errors.add(
                "default_currency",
                format!(
                    "'{}' is not a currency the store accepts: choose one from the list.",
                    self.default_currency.trim()
                ),
            );
        }
        if let Err(e) = Synonyms::parse(&self.search_synonyms) {
            errors.add("search_synonyms", e);
        }
        match (errors.is_empty(), currency) {
            (true, Some(default_currency)) => Ok(ValidSettings {
                legal_name: legal_name.to_string(),
                address: normalise(&self.address),
                tax_id: tax_id.to_string(),
                invoice_footer: normalise(&self.invoice_footer),
                default_currency,
                prices_include_tax: self.prices_include_tax,
                stripe_tax: self.stripe_tax,
                search_synonyms: normalise(&self.search_synonyms),
                clients_invite: self.clients_invite,
            }),
            _ => Err(errors),
        }
    }
}

/// Trimmed, with Windows line ends made plain.
fn normalise(text: &str) -> String {
    text.trim().replace("\r\n", "\n")
}

/// The logo's change: none, a new one (its key in the file store), or removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Logo {
    Keep,
    Set(String),
    Remove,
}

/// Saves the settings (and the logo's change), logged with the fields that changed. Returns
/// the settings saved and the logo key no longer used, for the caller to delete once this
/// transaction has committed.
pub async fn save<C: ConnectionTrait>(
    conn: &C,
    config: &Config,
    actor: &Actor,
    valid: ValidSettings,
    logo: Logo,
) -> AppResult<(Settings, Option<String>)> {
    let before = get(conn, config).await?;
    let logo_key = match &logo {
        Logo::Keep => before.logo_key.clone(),
        Logo::Set(key) => Some(key.clone()),
        Logo::Remove => None,
    };
    let after = Settings {
        id: ID,
        legal_name: valid.legal_name,
        address: valid.address,
        tax_id: valid.tax_id,
        invoice_footer: valid.invoice_footer,
        logo_key,
        default_currency: valid.default_currency,
        prices_include_tax: valid.prices_include_tax,
        stripe_tax: valid.stripe_tax,
        search_synonyms: valid.search_synonyms,
        clients_invite: valid.clients_invite,
        webhooks_private_networks: before.webhooks_private_networks,
        updated_at: Utc::now(),
    };
    let mut changed = Vec::new();
    for (name, differs) in [
        ("legal_name", before.legal_name != after.legal_name),
        ("address", before.address != after.address),
        ("tax_id", before.tax_id != after.tax_id),
        (
            "invoice_footer",
            before.invoice_footer != after.invoice_footer,
        ),
        ("logo", before.logo_key != after.logo_key),
        (
            "default_currency",
            before.default_currency != after.default_currency,
        ),
        (
            "prices_include_tax",
            before.prices_include_tax != after.prices_include_tax,
        ),
        ("stripe_tax", before.stripe_tax != after.stripe_tax),
        (
            "clients_invite",
            before.clients_invite != after.clients_invite,
        ),
        (
            "search_synonyms",
            before.search_synonyms != after.search_synonyms,
        ),
    ] {
        if differs {
            changed.push(name);
        }
    }
    let row = agency_settings::ActiveModel {
        id: Set(ID),
        legal_name: Set(after.legal_name.clone()),
        address: Set(after.address.clone()),
        tax_id: Set(after.tax_id.clone()),
        invoice_footer: Set(after.invoice_footer.clone()),
        logo_key: Set(after.logo_key.clone()),
        default_currency: Set(after.default_currency),
        prices_include_tax: Set(after.prices_include_tax),
        stripe_tax: Set(after.stripe_tax),
        search_synonyms: Set(after.search_synonyms.clone()),
        clients_invite: Set(after.clients_invite),
        webhooks_private_networks: Set(after.webhooks_private_networks),
        updated_at: Set(after.updated_at),
    };
    agency_settings::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(agency_settings::Column::Id)
                .update_columns([
                    agency_settings::Column::LegalName,
                    agency_settings::Column::Address,
                    agency_settings::Column::TaxId,
                    agency_settings::Column::InvoiceFooter,
                    agency_settings::Column::LogoKey,
                    agency_settings::Column::DefaultCurrency,
                    agency_settings::Column::PricesIncludeTax,
                    agency_settings::Column::StripeTax,
                    agency_settings::Column::SearchSynonyms,
                    agency_settings::Column::ClientsInvite,
                    agency_settings::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    if before.search_synonyms != after.search_synonyms {
        // The store's search reads them with the catalogue: a new version makes it again.
        crate::catalog::store_cache::bump_version(conn).await?;
    }
    if !changed.is_empty() {
        activity::record(
            conn,
            actor,
            "settings.changed",
            Subject {
                entity_type: "settings",
                entity_id: ID.into(),
                client_id: None,
            },
            json!({ "fields": changed }),
        )
        .await?;
    }
    let unused = match logo {
        Logo::Keep => None,
        Logo::Set(_) | Logo::Remove => before
            .logo_key
            .filter(|k| Some(k) != after.logo_key.as_ref()),
    };
    Ok((after, unused))
}

/// Whether outbound webhooks may go to private and loopback addresses (off until an admin turns
/// it on).
pub async fn webhooks_private_networks<C: ConnectionTrait>(conn: &C) -> Result<bool, DbErr> {
    Ok(
        saved(conn, agency_settings::Column::WebhooksPrivateNetworks)
            .await?
            .unwrap_or(false),
    )
}

/// Allows or forbids webhooks to private and loopback addresses, logged when it changes.
pub async fn set_webhooks_private_networks<C: ConnectionTrait>(
    conn: &C,
    config: &Config,
    actor: &Actor,
    allow: bool,
) -> Result<(), DbErr> {
    let before = get(conn, config).await?;
    if before.webhooks_private_networks == allow {
        return Ok(());
    }
    // Written whole when the row is new; otherwise only this choice changes.
    let row = sea_orm::ActiveModelTrait::reset_all(agency_settings::ActiveModel::from(Settings {
        webhooks_private_networks: allow,
        updated_at: Utc::now(),
        ..before
    }));
    agency_settings::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(agency_settings::Column::Id)
                .update_columns([
                    agency_settings::Column::WebhooksPrivateNetworks,
                    agency_settings::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    activity::record(
        conn,
        actor,
        "settings.changed",
        Subject {
            entity_type: "settings",
            entity_id: ID.into(),
            client_id: None,
        },
        json!({ "fields": ["webhooks_private_networks"], "to": allow }),
    )
    .await
}
