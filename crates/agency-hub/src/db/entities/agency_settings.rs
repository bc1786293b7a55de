//! The agency's own details (on its invoices) and its billing choices: one row, id 1.

use sea_orm::entity::prelude::*;

use crate::money::Currency;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agency_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub legal_name: String,
    pub address: String,
    pub tax_id: String,
    pub invoice_footer: String,
    /// The logo (a PNG) in the file store.
    pub logo_key: Option<String>,
    pub default_currency: Currency,
    pub prices_include_tax: bool,
    pub stripe_tax: bool,
    /// The store search's synonyms, one group a line (`catalog::search::Synonyms`).
    pub search_synonyms: String,
    /// Clients may invite teammates to their company.
    pub clients_invite: bool,
    /// Outbound webhooks may go to private and loopback addresses (`webhooks::guard`).
    pub webhooks_private_networks: bool,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
