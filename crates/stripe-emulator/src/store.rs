//! The emulator's state: every resource, the clock, the event log and the webhook deliveries,
//! plus the helpers all resources share (ids, events, lists, expansion).

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc::UnboundedSender;

use crate::billing::{Invoice, PaymentMethod, PortalSession, Subscription};
use crate::error::{ApiError, ApiResult};
use crate::model::{
    Charge, Coupon, Customer, Event, PaymentIntent, Price, Product, PromotionCode, Refund, Session,
    WebhookEndpoint,
};

/// Real time plus an offset that tests move forward.
#[derive(Debug, Default, Clone, Copy)]
pub struct Clock {
    offset_ms: i64,
}

impl Clock {
    pub fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() + self.offset_ms
    }

    pub fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    pub fn advance(&mut self, seconds: i64) {
        self.offset_ms += seconds * 1000;
    }
}

pub fn new_id(prefix: &str) -> String {
    let raw = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &raw[..24])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for an attempt or a retry.
    Pending,
    /// Deliveries are on hold; released by the test control.
    Held,
    Succeeded,
    /// Every attempt of the retry schedule failed.
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// Unix milliseconds of wall time when the attempt started.
    pub at_ms: i64,
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// One event on its way to one endpoint; resends and repeated deliveries are new deliveries.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: String,
    pub event: String,
    pub event_type: String,
    pub endpoint: String,
    pub url: String,
    pub state: DeliveryState,
    pub attempts: Vec<Attempt>,
}

pub struct Store {
    pub clock: Clock,
    pub api_version: String,
    pub tax_rate_bps: i64,
    pub settlement_delay_ms: i64,
    pub base_url: String,
    pub products: IndexMap<String, Product>,
    pub prices: IndexMap<String, Price>,
    pub customers: IndexMap<String, Customer>,
    pub sessions: IndexMap<String, Session>,
    pub payment_intents: IndexMap<String, PaymentIntent>,
    pub charges: IndexMap<String, Charge>,
    pub refunds: IndexMap<String, Refund>,
    pub coupons: IndexMap<String, Coupon>,
    pub promotion_codes: IndexMap<String, PromotionCode>,
    pub payment_methods: IndexMap<String, PaymentMethod>,
    pub subscriptions: IndexMap<String, Subscription>,
    pub invoices: IndexMap<String, Invoice>,
    pub portal_sessions: IndexMap<String, PortalSession>,
    pub events: IndexMap<String, Event>,
    pub webhook_endpoints: IndexMap<String, WebhookEndpoint>,
    pub deliveries: IndexMap<String, Delivery>,
    pub hold_deliveries: bool,
    deliver: UnboundedSender<String>,
}

impl Store {
    pub fn new(
        api_version: String,
        tax_rate_bps: i64,
        settlement_delay_ms: i64,
        base_url: String,
        deliver: UnboundedSender<String>,
    ) -> Self {
        Self {
            clock: Clock::default(),
            api_version,
            tax_rate_bps,
            settlement_delay_ms,
            base_url,
            products: IndexMap::new(),
            prices: IndexMap::new(),
            customers: IndexMap::new(),
            sessions: IndexMap::new(),
            payment_intents: IndexMap::new(),
            charges: IndexMap::new(),
            refunds: IndexMap::new(),
            coupons: IndexMap::new(),
            promotion_codes: IndexMap::new(),
            payment_methods: IndexMap::new(),
            subscriptions: IndexMap::new(),
            invoices: IndexMap::new(),
            portal_sessions: IndexMap::new(),
            events: IndexMap::new(),
            webhook_endpoints: IndexMap::new(),
            deliveries: IndexMap::new(),
            hold_deliveries: false,
            deliver,
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Records an event and queues one delivery per endpoint that listens for its type.
    pub fn emit(&mut self, kind: &str, object: Value, previous: Option<Value>) -> String {
        let mut data = json!({ "object": object });
        if let Some(prev) = previous {
            data["previous_attributes"] = prev;
        }
        let event = Event {
            id: new_id("evt_"),
            created: self.now(),
            kind: kind.to_string(),
            data,
        };
        let id = event.id.clone();
        self.events.insert(id.clone(), event);
        let endpoints: Vec<String> = self
            .webhook_endpoints
            .values()
            .filter(|e| e.wants(kind))
            .map(|e| e.id.clone())
            .collect();
        for endpoint in endpoints {
            self.queue_delivery(&id, &endpoint);
        }
        id
    }

    /// Creates a delivery; unless deliveries are on hold it starts right away.
    pub fn queue_delivery(&mut self, event_id: &str, endpoint_id: &str) -> Option<String> {
        let event = self.events.get(event_id)?;
        let endpoint = self.webhook_endpoints.get(endpoint_id)?;
        let delivery = Delivery {
            id: new_id("whd_"),
            event: event_id.to_string(),
            event_type: event.kind.clone(),
            endpoint: endpoint_id.to_string(),
            url: endpoint.url.clone(),
            state: if self.hold_deliveries {
                DeliveryState::Held
            } else {
                DeliveryState::Pending
            },
            attempts: Vec::new(),
        };
        let id = delivery.id.clone();
        let held = delivery.state == DeliveryState::Held;
        self.deliveries.insert(id.clone(), delivery);
        if !held {
            // The receiver lives as long as the server; a send fails only during shutdown,
            // when there is nobody left to deliver to.
            let _ = self.deliver.send(id.clone());
        }
        Some(id)
    }

    pub fn event_json(&self, event: &Event) -> Value {
        let pending = self
            .deliveries
            .values()
            .filter(|d| d.event == event.id && d.state != DeliveryState::Succeeded)
            .count();
        json!({
            "id": event.id, "object": "event", "api_version": self.api_version,
            "created": event.created, "data": event.data, "livemode": false,
            "pending_webhooks": pending,
            "request": {"id": null, "idempotency_key": null},
            "type": event.kind,
        })
    }

    /// Any object by its id, for `expand[]`.
    pub fn lookup(&self, id: &str) -> Option<Value> {
        let (prefix, _) = id.split_once('_')?;
        match prefix {
            "prod" => self.products.get(id).map(Product::to_json),
            "price" => self.prices.get(id).map(Price::to_json),
            "cus" => self.customers.get(id).map(Customer::to_json),
            "cs" => self.sessions.get(id).map(Session::to_json),
            "pi" => self.payment_intents.get(id).map(PaymentIntent::to_json),
            "ch" => self.charges.get(id).map(|c| c.to_json(self)),
            "re" => self.refunds.get(id).map(Refund::to_json),
            "promo" => self.promotion_codes.get(id).map(|p| p.to_json(self)),
            "pm" => self.payment_methods.get(id).map(PaymentMethod::to_json),
            "sub" => self.subscriptions.get(id).map(|s| s.to_json(self)),
            "in" => self.invoices.get(id).map(|i| i.to_json(self)),
            "evt" => self.events.get(id).map(|e| self.event_json(e)),
            _ => None,
        }
    }

    /// Replaces ids by objects along each dotted `expand[]` path, as Stripe does.
    pub fn expand(&self, value: &mut Value, paths: &[String]) -> ApiResult<()> {
        for path in paths {
            let segments: Vec<&str> = path.split('.').collect();
            if segments.len() > 4 {
                return Err(ApiError::invalid(format!(
                    "You cannot expand more than 4 levels of a property. Property: {path}"
                ))
                .param("expand"));
            }
            self.expand_path(value, &segments, path)?;
        }
        Ok(())
    }

    fn expand_path(&self, value: &mut Value, segments: &[&str], full: &str) -> ApiResult<()> {
        let cannot = || {
            ApiError::invalid(format!("This property cannot be expanded ({full}).")).param("expand")
        };
        let Some((first, rest)) = segments.split_first() else {
            return Ok(());
        };
        if value.get("object").and_then(Value::as_str) == Some("list") && *first == "data" {
            if let Some(items) = value.get_mut("data").and_then(Value::as_array_mut) {
                for item in items {
                    self.expand_path(item, rest, full)?;
                }
            }
            return Ok(());
        }
        if *first == "line_items"
            && value.get("object").and_then(Value::as_str) == Some("checkout.session")
        {
            let id = value["id"].as_str().unwrap_or_default().to_string();
            let session = self.sessions.get(&id).ok_or_else(cannot)?;
            let items: Vec<Value> = session.line_items.iter().map(|l| l.to_json(self)).collect();
            let mut list = list_json(
                items,
                &format!("/v1/checkout/sessions/{id}/line_items"),
                false,
            );
            self.expand_path(&mut list, rest, full)?;
            value["line_items"] = list;
            return Ok(());
        }
        // A coupon's `applies_to` and `currency_options` are includable.
        if value.get("object").and_then(Value::as_str) == Some("coupon")
            && let Some(coupon) = value["id"].as_str().and_then(|id| self.coupons.get(id))
            && let Some(field) = coupon.includable(first)
        {
            value[*first] = field;
            return if rest.is_empty() {
                Ok(())
            } else {
                Err(cannot())
            };
        }
        // A line item's `taxes` is includable: rendered only when asked for.
        if *first == "taxes" && value.get("object").and_then(Value::as_str) == Some("item") {
            let id = value["id"].as_str().unwrap_or_default();
            let line = self
                .sessions
                .values()
                .flat_map(|s| &s.line_items)
                .find(|l| l.id == id)
                .ok_or_else(cannot)?;
            value["taxes"] = line.taxes_json();
            // Each tax's `rate` is already whole.
            return match rest {
                [] | ["rate"] => Ok(()),
                _ => Err(cannot()),
            };
        }
        // So is its `discounts`; each one's `discount.promotion_code` is expandable.
        if *first == "discounts" && value.get("object").and_then(Value::as_str) == Some("item") {
            let id = value["id"].as_str().unwrap_or_default();
            let (session, line) = self
                .sessions
                .values()
                .find_map(|s| s.line_items.iter().find(|l| l.id == id).map(|l| (s, l)))
                .ok_or_else(cannot)?;
            let mut discounts = crate::checkout::line_discounts(self, session, line);
            if let Some(all) = discounts.as_array_mut() {
                for d in all {
                    self.expand_path(d, rest, full)?;
                }
            }
            value["discounts"] = discounts;
            return Ok(());
        }
        let field = value.get_mut(*first).ok_or_else(cannot)?;
        match field {
            Value::Null => Ok(()),
            Value::String(id) => {
                let mut expanded = self.lookup(id).ok_or_else(cannot)?;
                self.expand_path(&mut expanded, rest, full)?;
                *field = expanded;
                Ok(())
            }
            Value::Object(_) if !rest.is_empty() => self.expand_path(field, rest, full),
            _ => Err(cannot()),
        }
    }
}

pub fn list_json(data: Vec<Value>, url: &str, has_more: bool) -> Value {
    json!({ "object": "list", "data": data, "has_more": has_more, "url": url })
}

/// Stripe's cursor pagination over items already in list order (newest first for resources).
pub fn paginate(
    items: Vec<Value>,
    url: &str,
    limit: Option<i64>,
    starting_after: Option<&str>,
    ending_before: Option<&str>,
) -> ApiResult<Value> {
    let limit = limit.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "Invalid limit: must be between 1 and 100, got {limit}"
        ))
        .param("limit"));
    }
    let limit = limit as usize;
    let position = |cursor: &str, param: &str| {
        items
            .iter()
            .position(|v| v["id"] == cursor)
            .ok_or_else(|| ApiError::no_such("object", cursor, param))
    };
    let (slice, has_more) = match (starting_after, ending_before) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "You may only specify one of these parameters: starting_after, ending_before.",
            )
            .param("starting_after"));
        }
        (Some(cursor), None) => {
            let start = position(cursor, "starting_after")? + 1;
            let end = (start + limit).min(items.len());
            (items[start..end].to_vec(), end < items.len())
        }
        (None, Some(cursor)) => {
            let end = position(cursor, "ending_before")?;
            let start = end.saturating_sub(limit);
            (items[start..end].to_vec(), start > 0)
        }
        (None, None) => {
            let end = limit.min(items.len());
            (items[..end].to_vec(), end < items.len())
        }
    };
    Ok(list_json(slice, url, has_more))
}

/// The top-level attributes that changed, with their old values, for `*.updated` events.
pub fn previous_attributes(before: &Value, after: &Value) -> Value {
    let mut prev = Map::new();
    if let (Some(b), Some(a)) = (before.as_object(), after.as_object()) {
        for (k, old) in b {
            if k != "updated" && a.get(k) != Some(old) {
                prev.insert(k.clone(), old.clone());
            }
        }
    }
    Value::Object(prev)
}
