//! Where files' bytes are kept: one [`ObjectStore`] (the `object_store` crate's trait), a folder
//! on this machine or an S3-compatible bucket, under a prefix. Keys are ours
//! (`services/{id}/{uuid}`), never a name someone typed.

use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetResult, ObjectStore, ObjectStoreExt, PutPayload};

use crate::config::FileStore;

#[derive(Clone, Debug)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

impl Storage {
    pub fn open(settings: &FileStore) -> anyhow::Result<Self> {
        match settings {
            FileStore::Local(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating the files folder {}", dir.display()))?;
                let store = LocalFileSystem::new_with_prefix(dir)
                    .with_context(|| format!("the files folder {}", dir.display()))?;
                Ok(Self {
                    store: Arc::new(store),
                    prefix: String::new(),
                })
            }
            FileStore::S3 {
                bucket,
                prefix,
                endpoint,
                access_key_id,
                secret_access_key,
                region,
            } => {
                // Its HTTP client speaks TLS with the process's provider.
                crate::stripe::install_tls_provider();
                let mut b = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(region);
                if let Some(endpoint) = endpoint {
                    b = b
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"));
                }
                if let (Some(key), Some(secret)) = (access_key_id, secret_access_key) {
                    b = b.with_access_key_id(key).with_secret_access_key(secret);
                }
                let store = b.build().context("the S3 file store (FILES_URL)")?;
                Ok(Self {
                    store: Arc::new(store),
                    prefix: prefix.clone(),
                })
            }
        }
    }

    fn path(&self, key: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        }
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> anyhow::Result<()> {
        self.store
            .put(&self.path(key), PutPayload::from_bytes(bytes))
            .await
            .with_context(|| format!("storing the file {key}"))?;
        Ok(())
    }

    /// The file's bytes as a stream (a download never holds a whole file in memory).
    pub async fn get(&self, key: &str) -> anyhow::Result<GetResult> {
        self.store
            .get(&self.path(key))
            .await
            .with_context(|| format!("reading the file {key}"))
    }

    /// The keys kept under a key prefix (`services/12/`), in no order.
    pub async fn keys(&self, under: &str) -> anyhow::Result<Vec<String>> {
        use futures_util::TryStreamExt;
        let prefix = self.path(under.trim_end_matches('/'));
        let metas: Vec<_> = self
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .with_context(|| format!("listing the files under {under}"))?;
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        Ok(metas
            .into_iter()
            .map(|m| {
                m.location
                    .to_string()
                    .trim_start_matches(&strip)
                    .to_string()
            })
            .collect())
    }

    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.store
            .delete(&self.path(key))
            .await
            .with_context(|| format!("deleting the file {key}"))
    }
}
