//! The store's pages, categories and services served from memory while the catalogue is
//! unchanged. Any write to `service_templates` bumps `catalog_version.version` in its own
//! transaction (database triggers, so no write path can forget it, on any instance); a read
//! checks that one row (a primary-key read) and drops what it kept when the number moved. So
//! what a request shows is never older than the catalogue it read the version of.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use sea_orm::{ConnectionTrait, DbErr, Statement};

use super::store::{self, StoreQuery};
use crate::db::Db;
use crate::db::entities::service_template;
use crate::error::AppResult;
use crate::ids::TemplateId;

/// Pages (one per query string) kept at most; past it the map starts again.
const MAX_PAGES: usize = 2_000;

pub type Page = Arc<(Vec<service_template::Model>, u64)>;

#[derive(Clone)]
pub struct StoreCache {
    db: Db,
    kept: Arc<Mutex<Kept>>,
}

#[derive(Default)]
struct Kept {
    version: i64,
    pages: HashMap<StoreQuery, Page>,
    categories: Option<Arc<Vec<String>>>,
    services: HashMap<TemplateId, Option<Arc<service_template::Model>>>,
}

impl StoreCache {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            kept: Arc::default(),
        }
    }

    fn kept(&self) -> MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The catalogue's version now; what was kept for another version is dropped.
    async fn version(&self) -> Result<i64, DbErr> {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                "SELECT version FROM catalog_version WHERE id = 1",
            ))
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("catalog_version".into()))?;
        let version: i64 = row.try_get("", "version")?;
        let mut kept = self.kept();
        if kept.version != version {
            *kept = Kept {
                version,
                ..Kept::default()
            };
        }
        Ok(version)
    }

    /// Keeps what was read at `version`, unless the catalogue moved on meanwhile.
    fn keep(&self, version: i64, put: impl FnOnce(&mut Kept)) {
        let mut kept = self.kept();
        if kept.version == version {
            put(&mut kept);
        }
    }

    /// One page of the store and how many match (as `store::list`).
    pub async fn list(&self, q: &StoreQuery) -> AppResult<Page> {
        let version = self.version().await?;
        if let Some(page) = self.kept().pages.get(q) {
            return Ok(page.clone());
        }
        let page: Page = Arc::new(store::list(&self.db, q).await?);
        self.keep(version, |kept| {
            if kept.pages.len() >= MAX_PAGES {
                kept.pages.clear();
            }
            kept.pages.insert(q.clone(), page.clone());
        });
        Ok(page)
    }

    /// The categories with something on sale (as `store::categories`).
    pub async fn categories(&self) -> AppResult<Arc<Vec<String>>> {
        let version = self.version().await?;
        if let Some(c) = &self.kept().categories {
            return Ok(c.clone());
        }
        let categories = Arc::new(store::categories(&self.db).await?);
        self.keep(version, |kept| kept.categories = Some(categories.clone()));
        Ok(categories)
    }

    /// A service on sale, or the store's 404 (as `store::get_on_sale`).
    pub async fn get_on_sale(&self, id: TemplateId) -> AppResult<Arc<service_template::Model>> {
        let version = self.version().await?;
        let kept = self.kept().services.get(&id).cloned();
        let found = match kept {
            Some(found) => found,
            None => {
                let found = match store::get_on_sale(&self.db, id).await {
                    Ok(t) => Some(Arc::new(t)),
                    Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => None,
                    Err(e) => return Err(e),
                };
                self.keep(version, |kept| {
                    if kept.services.len() >= MAX_PAGES {
                        kept.services.clear();
                    }
                    kept.services.insert(id, found.clone());
                });
                found
            }
        };
        found.ok_or_else(store::not_in_store)
    }
}
