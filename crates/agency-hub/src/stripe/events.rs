//! Stripe's events as they arrive: the envelope, and its object decoded into our types.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ids::OrderId;

#[derive(Debug, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// When Stripe made it (Unix seconds): orders what one object's events say.
    #[serde(default)]
    pub created: i64,
    pub data: EventData,
}

#[derive(Debug, Deserialize)]
pub struct EventData {
    pub object: Value,
}

impl Event {
    /// The event's object as `T` (a Checkout Session, a Charge…); the error says why not.
    pub fn object<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_value(self.data.object.clone()).map_err(|e| e.to_string())
    }

    /// `metadata.order_id` of the event's object (a PaymentIntent's, say).
    pub fn metadata_order_id(&self) -> Option<OrderId> {
        self.data.object["metadata"]["order_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
    }
}
