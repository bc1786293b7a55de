//! How the portal meets other tools: outbound webhooks, backups, a client's data export. (API
//! tokens, which let tools in, are part of `auth`.)

pub mod backup;
pub mod export;
pub mod webhooks;
