//! The ids of the app's main records, each a type of its own, so that a client's id cannot be
//! passed where a service's is wanted. They are stored as the same integer columns as before
//! (SeaORM's `DeriveValueType`) and read from paths and JSON as plain numbers.

use std::fmt;

use sea_orm::DeriveValueType;
use serde::{Deserialize, Serialize};

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            DeriveValueType,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }
    )*};
}

ids! {
    /// A client company.
    ClientId;
    /// A person who signs in (staff or a client's).
    UserId;
    /// A service template (what the store sells).
    TemplateId;
    /// A service run for a client.
    ServiceId;
    OrderId;
    /// A line of an order.
    OrderItemId;
    /// A recurring order item's subscription.
    SubscriptionId;
    /// A message (or internal note) on a service.
    MessageId;
    /// A file on a service.
    FileId;
}
