//! Typed settings read from the environment (and an optional `.env`), validated as a whole at start.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use url::Url;

/// Which database a `DATABASE_URL` names. Anything else is refused at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://path/to/file.db`; the folder is created when missing.
    Sqlite { url: String, path: PathBuf },
    /// `postgres://user@host:port/db` (or `postgresql://`).
    Postgres { url: String },
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if let Some(rest) = raw.strip_prefix("sqlite://") {
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err("a sqlite:// URL needs a file path".into());
            }
            return Ok(Self::Sqlite {
                url: raw.to_string(),
                path: PathBuf::from(path),
            });
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Url::parse(raw).map_err(|e| format!("not a valid URL ({e})"))?;
            return Ok(Self::Postgres {
                url: raw.to_string(),
            });
        }
        let scheme = raw.split("://").next().unwrap_or(raw);
        Err(format!(
            "unknown database scheme '{scheme}': use sqlite:// or postgres://"
        ))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } | Self::Postgres { url } => url,
        }
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, Self::Sqlite { .. })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub bind: SocketAddr,
    /// The public address of the app: links in emails, the Origin API writes must come from,
    /// and whether the session cookie is `Secure`.
    pub app_url: Url,
    pub log_format: LogFormat,
    /// Seed the demo data when `serve` starts on an empty database.
    pub demo_data: bool,
    /// The agency's name, shown in the layout and in emails.
    pub agency_name: String,
    /// `STORE_ENABLED=false` hides the store: its pages and API routes answer 404.
    pub store_enabled: bool,
    /// `smtp://` or `smtps://`; without it emails are stored for the admin's Emails page.
    pub smtp_url: Option<Url>,
    /// The sender of every email, e.g. `Northwind Studio <hello@northwind.example>`.
    pub mail_from: String,
    pub mail_reply_to: Option<String>,
    pub stripe: StripeSettings,
    /// When set, `GET /metrics` wants `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    pub files: FileSettings,
    /// `TRUSTED_PROXIES`: the peers whose `X-Forwarded-For` / `Forwarded` are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `API_TOKEN_RATE_LIMIT`: requests one API token may make a minute (600 by default).
    pub api_token_rate_limit: u32,
}

/// Where files go and how large they may be.
#[derive(Clone, Debug)]
pub struct FileSettings {
    pub store: FileStore,
    /// The largest file, in bytes (`FILE_MAX_MB`, 25 by default).
    pub max_file_bytes: u64,
    /// The most one service may hold, in bytes (`SERVICE_FILES_MAX_MB`, 500 by default).
    pub max_service_bytes: u64,
}

/// `FILES_URL`: a folder on this machine (a path, or `file:///…`; `data/files` by default) or
/// S3-compatible object storage (`s3://bucket/prefix`, with `AWS_ENDPOINT_URL`,
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_REGION`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileStore {
    Local(std::path::PathBuf),
    S3 {
        bucket: String,
        prefix: String,
        endpoint: Option<String>,
        access_key_id: Option<String>,
        secret_access_key: Option<String>,
        region: String,
    },
}

/// How the app reaches Stripe. Without `STRIPE_SECRET_KEY`, `serve` runs the built-in emulator.
#[derive(Clone, Debug)]
pub struct StripeSettings {
    pub secret_key: Option<String>,
    /// Several, comma-separated, while a secret is being rotated.
    pub webhook_secrets: Vec<String>,
    pub api_base: String,
    pub api_version: String,
    pub allow_promotion_codes: bool,
    pub automatic_tax: bool,
}

impl StripeSettings {
    pub fn live(&self) -> bool {
        self.secret_key
            .as_deref()
            .is_some_and(|k| k.starts_with("sk_live_") || k.starts_with("rk_live_"))
    }
}

/// Every configuration mistake found, one line each.
#[derive(Debug)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, line) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the process environment, after loading `.env` when there is one.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any source of variables (tests pass a map). Each group of
    /// settings is read by a function of its own; they run in the order the mistakes are
    /// reported in.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut errors = Vec::new();
        let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let var: Var = &var;

        let database_url = database_url(&mut errors, var);
        let bind = bind(&mut errors, var);
        let app_url = app_url(&mut errors, var);
        let log_format = log_format(&mut errors, var);
        let default_demo = database_url.as_ref().is_none_or(DatabaseUrl::is_sqlite);
        let demo_data = parse_bool(&mut errors, "DEMO_DATA", var("DEMO_DATA"), default_demo);
        let mail = mail(&mut errors, var);
        let metrics_token = var("METRICS_TOKEN").filter(|t| !t.trim().is_empty());
        let stripe = stripe(&mut errors, var);
        if stripe.live() {
            check_live(&mut errors, &stripe, app_url.as_ref());
        }
        let store_enabled = parse_bool(&mut errors, "STORE_ENABLED", var("STORE_ENABLED"), true);
        let agency_name = agency_name(&mut errors, var);
        let files = files(&mut errors, var);
        let api_token_rate_limit = match var("API_TOKEN_RATE_LIMIT") {
            None => 600,
            Some(raw) => raw.trim().parse().ok().filter(|n| *n >= 1).unwrap_or_else(|| {
                errors.push(format!(
                    "API_TOKEN_RATE_LIMIT: '{raw}' is not a number of requests a minute (example: 600)"
                ));
                600
            }),
        };
        let trusted_proxies = match var("TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(raw) => crate::web::proxy::parse_trusted(&raw).unwrap_or_else(|e| {
                errors.push(format!("TRUSTED_PROXIES: {e}"));
                Vec::new()
            }),
        };

        match (database_url, bind, app_url) {
            (Some(database_url), Some(bind), Some(app_url)) if errors.is_empty() => Ok(Self {
                database_url,
                bind,
                app_url,
                log_format,
                demo_data,
                agency_name,
                store_enabled,
                smtp_url: mail.smtp_url,
                mail_from: mail.from,
                mail_reply_to: mail.reply_to,
                stripe,
                metrics_token,
                files,
                trusted_proxies,
                api_token_rate_limit,
            }),
            _ => Err(ConfigError(errors)),
        }
    }

    /// `scheme://host[:port]` of `APP_URL`, as browsers send it in `Origin`.
    pub fn app_origin(&self) -> String {
        self.app_url.origin().ascii_serialization()
    }

    pub fn secure_cookies(&self) -> bool {
        self.app_url.scheme() == "https"
    }

    /// An absolute link to a path of the app, for emails and redirects to the outside.
    pub fn url_for(&self, path: &str) -> String {
        format!("{}{}", self.app_url.as_str().trim_end_matches('/'), path)
    }
}

/// A variable's value, `None` when it is unset or blank.
type Var<'a> = &'a dyn Fn(&str) -> Option<String>;

fn files(errors: &mut Vec<String>, var: Var) -> FileSettings {
    let store = match var("FILES_URL") {
        None => FileStore::Local("data/files".into()),
        Some(raw) => match raw.trim().strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    errors.push(format!(
                        "FILES_URL: '{raw}' names no bucket (example: s3://agency-files/portal)"
                    ));
                }
                FileStore::S3 {
                    bucket: bucket.to_string(),
                    prefix: prefix.trim_matches('/').to_string(),
                    endpoint: var("AWS_ENDPOINT_URL"),
                    access_key_id: var("AWS_ACCESS_KEY_ID"),
                    secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
                    region: var("AWS_REGION").unwrap_or_else(|| "us-east-1".into()),
                }
            }
            None if raw.contains("://") && !raw.starts_with("file://") => {
                errors.push(format!(
                    "FILES_URL: '{raw}' is neither a folder (data/files, file:///srv/files) nor s3://bucket/prefix"
                ));
                FileStore::Local("data/files".into())
            }
            None => FileStore::Local(raw.trim().trim_start_matches("file://").into()),
        },
    };
    let mb = |errors: &mut Vec<String>, name: &str, default: u64| match var(name) {
        None => default * 1024 * 1024,
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(n) if (1..=10_240).contains(&n) => n * 1024 * 1024,
            _ => {
                errors.push(format!(
                    "{name}: '{raw}' is not a size in megabytes from 1 to 10240"
                ));
                default * 1024 * 1024
            }
        },
    };
    FileSettings {
        store,
        max_file_bytes: mb(errors, "FILE_MAX_MB", 25),
        max_service_bytes: mb(errors, "SERVICE_FILES_MAX_MB", 500),
    }
}

fn database_url(errors: &mut Vec<String>, var: Var) -> Option<DatabaseUrl> {
    let database_url = var("DATABASE_URL").unwrap_or_else(|| "sqlite://data/agency-hub.db".into());
    DatabaseUrl::parse(&database_url)
        .map_err(|e| {
            errors.push(format!(
                "DATABASE_URL: {e} (example: sqlite://data/agency-hub.db or postgres://user@127.0.0.1:5432/agency_hub)"
            ))
        })
        .ok()
}

fn bind(errors: &mut Vec<String>, var: Var) -> Option<SocketAddr> {
    let bind = var("BIND").unwrap_or_else(|| "127.0.0.1:3001".into());
    bind.parse::<SocketAddr>()
        .map_err(|_| {
            errors.push(format!(
                "BIND: '{bind}' is not an address and port (example: 127.0.0.1:3001)"
            ))
        })
        .ok()
}

fn app_url(errors: &mut Vec<String>, var: Var) -> Option<Url> {
    let app_url = var("APP_URL").unwrap_or_else(|| "http://localhost:3001".into());
    match Url::parse(&app_url) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => Some(u),
        _ => {
            errors.push(format!(
                "APP_URL: '{app_url}' is not an http(s) URL (example: https://portal.example.com)"
            ));
            None
        }
    }
}

fn log_format(errors: &mut Vec<String>, var: Var) -> LogFormat {
    match var("LOG_FORMAT")
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("pretty") | Some("text") => LogFormat::Pretty,
        Some("json") => LogFormat::Json,
        Some(other) => {
            errors.push(format!(
                "LOG_FORMAT: '{other}' is not 'pretty' or 'json' (example: json)"
            ));
            LogFormat::Pretty
        }
    }
}

/// The mail settings, read together and spread over `Config`'s fields.
struct Mail {
    smtp_url: Option<Url>,
    from: String,
    reply_to: Option<String>,
}

fn mail(errors: &mut Vec<String>, var: Var) -> Mail {
    let smtp_url = var("SMTP_URL").and_then(|raw| match Url::parse(&raw) {
        Ok(u) if matches!(u.scheme(), "smtp" | "smtps") && u.host_str().is_some() => Some(u),
        _ => {
            errors.push(format!(
                "SMTP_URL: '{}' is not an smtp:// or smtps:// address (example: smtp://user:password@mail.example.com:587)",
                redact(&raw)
            ));
            None
        }
    });
    let from = var("MAIL_FROM").unwrap_or_else(|| "Agency Hub <no-reply@localhost>".into());
    if from.parse::<lettre::message::Mailbox>().is_err() {
        errors.push(format!("MAIL_FROM: '{from}' is not a mailbox (example: Northwind Studio <hello@northwind.example>)"));
    }
    let reply_to = var("MAIL_REPLY_TO");
    if let Some(r) = &reply_to
        && r.parse::<lettre::message::Mailbox>().is_err()
    {
        errors.push(format!(
            "MAIL_REPLY_TO: '{r}' is not a mailbox (example: support@northwind.example)"
        ));
    }
    Mail {
        smtp_url,
        from,
        reply_to,
    }
}

fn stripe(errors: &mut Vec<String>, var: Var) -> StripeSettings {
    let secret_key = var("STRIPE_SECRET_KEY");
    if let Some(k) = &secret_key
        && !(k.starts_with("sk_") || k.starts_with("rk_"))
    {
        errors.push(
            "STRIPE_SECRET_KEY: not a Stripe secret key (it starts with sk_test_ or sk_live_)"
                .into(),
        );
    }
    let webhook_secrets: Vec<String> = var("STRIPE_WEBHOOK_SECRET")
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if webhook_secrets.iter().any(|s| !s.starts_with("whsec_")) {
        errors.push("STRIPE_WEBHOOK_SECRET: each secret starts with whsec_ (example: whsec_abc,whsec_def while rotating)".into());
    }
    let api_base = var("STRIPE_API_BASE").unwrap_or_else(|| "https://api.stripe.com".into());
    if !matches!(Url::parse(&api_base), Ok(u) if matches!(u.scheme(), "http" | "https")) {
        errors.push(format!(
            "STRIPE_API_BASE: '{api_base}' is not an http(s) URL (example: https://api.stripe.com)"
        ));
    }
    StripeSettings {
        secret_key,
        webhook_secrets,
        api_base: api_base.trim_end_matches('/').to_string(),
        api_version: var("STRIPE_API_VERSION").unwrap_or_else(|| "2023-10-16".into()),
        allow_promotion_codes: parse_bool(
            errors,
            "STRIPE_ALLOW_PROMOTION_CODES",
            var("STRIPE_ALLOW_PROMOTION_CODES"),
            true,
        ),
        automatic_tax: parse_bool(
            errors,
            "STRIPE_AUTOMATIC_TAX",
            var("STRIPE_AUTOMATIC_TAX"),
            false,
        ),
    }
}

/// What a live key needs beside it: real payments over https, with signed webhooks.
fn check_live(errors: &mut Vec<String>, stripe: &StripeSettings, app_url: Option<&Url>) {
    if app_url.is_some_and(|u| u.scheme() != "https") {
        errors.push("STRIPE_SECRET_KEY: a live key needs an https APP_URL (example: APP_URL=https://portal.example.com)".into());
    }
    if stripe.webhook_secrets.is_empty() {
        errors.push("STRIPE_WEBHOOK_SECRET: a live key needs the webhook's signing secret (example: whsec_...)".into());
    }
}

fn agency_name(errors: &mut Vec<String>, var: Var) -> String {
    let agency_name = var("AGENCY_NAME").unwrap_or_else(|| "Agency Hub".into());
    if agency_name.chars().count() > 100 {
        errors.push("AGENCY_NAME: longer than 100 characters (example: Northwind Studio)".into());
    }
    agency_name
}

/// A URL with its password hidden, for error messages.
fn redact(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => raw.to_string(),
    }
}

fn parse_bool(errors: &mut Vec<String>, name: &str, value: Option<String>, default: bool) -> bool {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => default,
        Some("true" | "1" | "yes" | "on") => true,
        Some("false" | "0" | "no" | "off") => false,
        Some(other) => {
            errors.push(format!(
                "{name}: '{other}' is not true or false (example: {name}=false)"
            ));
            default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_serve_sqlite_on_port_3001_with_demo_data() {
        let c = config(&[]).unwrap();
        assert_eq!(c.database_url.as_str(), "sqlite://data/agency-hub.db");
        assert_eq!(c.bind.to_string(), "127.0.0.1:3001");
        assert_eq!(c.app_origin(), "http://localhost:3001");
        assert!(c.demo_data);
        assert!(!c.secure_cookies());
    }

    #[test]
    fn postgres_has_no_demo_data_unless_asked() {
        let c = config(&[("DATABASE_URL", "postgres://u@127.0.0.1/db")]).unwrap();
        assert!(!c.demo_data);
        let c = config(&[
            ("DATABASE_URL", "postgres://u@127.0.0.1/db"),
            ("DEMO_DATA", "true"),
        ])
        .unwrap();
        assert!(c.demo_data);
    }

    #[test]
    fn every_mistake_is_reported_on_its_own_line() {
        let err = config(&[
            ("DATABASE_URL", "mysql://root@localhost/db"),
            ("BIND", "localhost"),
            ("APP_URL", "ftp://x"),
            ("LOG_FORMAT", "xml"),
            ("DEMO_DATA", "maybe"),
        ])
        .unwrap_err();
        assert_eq!(err.0.len(), 5, "{err}");
        assert!(err.0[0].starts_with("DATABASE_URL: unknown database scheme 'mysql'"));
        assert!(err.0[1].starts_with("BIND: 'localhost'"));
        assert!(err.0[2].starts_with("APP_URL: 'ftp://x'"));
        assert!(err.0[3].starts_with("LOG_FORMAT: 'xml'"));
        assert!(err.0[4].starts_with("DEMO_DATA: 'maybe'"));
        assert_eq!(err.to_string().lines().count(), 5);
    }

    #[test]
    fn mail_settings_are_checked_and_passwords_never_echoed() {
        let err = config(&[
            ("SMTP_URL", "http://user:s3cret@mail.example.com"),
            ("MAIL_FROM", "not a mailbox"),
        ])
        .unwrap_err();
        assert_eq!(err.0.len(), 2, "{err}");
        assert!(
            err.0[0].starts_with("SMTP_URL:") && !err.0[0].contains("s3cret"),
            "{err}"
        );
        assert!(err.0[1].starts_with("MAIL_FROM:"));
        let c = config(&[
            ("SMTP_URL", "smtps://u:p@mail.example.com"),
            ("MAIL_FROM", "Studio <hi@studio.example>"),
        ])
        .unwrap();
        assert_eq!(c.smtp_url.unwrap().scheme(), "smtps");
    }

    #[test]
    fn a_live_stripe_key_needs_https_and_a_webhook_secret() {
        let err = config(&[("STRIPE_SECRET_KEY", "sk_live_abc")]).unwrap_err();
        assert_eq!(err.0.len(), 2, "{err}");
        assert!(
            err.0[0].contains("https APP_URL") && err.0[1].starts_with("STRIPE_WEBHOOK_SECRET:"),
            "{err}"
        );
        let ok = config(&[
            ("STRIPE_SECRET_KEY", "sk_live_abc"),
            ("APP_URL", "https://portal.example.com"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_a, whsec_b"),
        ])
        .unwrap();
        assert!(ok.stripe.live());
        assert_eq!(ok.stripe.webhook_secrets, ["whsec_a", "whsec_b"]);
        assert!(
            config(&[("STRIPE_SECRET_KEY", "pk_test_abc")])
                .unwrap_err()
                .0[0]
                .starts_with("STRIPE_SECRET_KEY:")
        );
        assert!(config(&[("STRIPE_WEBHOOK_SECRET", "nope")]).is_err());
        let test = config(&[("STRIPE_SECRET_KEY", "sk_test_abc")]).unwrap();
        assert!(!test.stripe.live(), "a test key works over http");
        assert_eq!(test.stripe.api_version, "2023-10-16");
    }

    #[test]
    fn https_app_url_makes_cookies_secure() {
        let c = config(&[("APP_URL", "https://portal.example.com/")]).unwrap();
        assert!(c.secure_cookies());
        assert_eq!(c.app_origin(), "https://portal.example.com");
        assert_eq!(c.url_for("/login"), "https://portal.example.com/login");
    }
}
