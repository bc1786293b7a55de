//! The `stripe-emulator` binary: runs the emulator on its own until interrupted.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use stripe_emulator::{Config, DEFAULT_TAX_RATE_BPS, Emulator, RetryPolicy, WebhookEndpointConfig};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "A local Stripe API emulator with a hosted checkout page and signed webhooks"
)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:12111", env = "STRIPE_EMULATOR_BIND")]
    bind: SocketAddr,
    /// Deliver every event to this URL (requires --webhook-secret).
    #[arg(long, requires = "webhook_secret", env = "STRIPE_EMULATOR_WEBHOOK_URL")]
    webhook_url: Option<String>,
    /// Secret used to sign deliveries to --webhook-url (whsec_...).
    #[arg(long, requires = "webhook_url", env = "STRIPE_EMULATOR_WEBHOOK_SECRET")]
    webhook_secret: Option<String>,
    /// Accept only this secret key instead of any sk_test_ key.
    #[arg(long, env = "STRIPE_EMULATOR_API_KEY")]
    api_key: Option<String>,
    /// Milliseconds before a bank debit settles.
    #[arg(long, default_value_t = 10_000)]
    settlement_delay_ms: u64,
    /// Automatic tax rate in basis points (1000 = 10 %).
    #[arg(long, default_value_t = DEFAULT_TAX_RATE_BPS)]
    tax_rate_bps: u32,
    /// Milliseconds before the first webhook retry; later retries double it.
    #[arg(long, default_value_t = 1_000)]
    retry_initial_ms: u64,
    /// Retries after a failed webhook delivery.
    #[arg(long, default_value_t = 8)]
    retry_max: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs go to stderr so that stdout carries only the base URL, for scripts to read.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "stripe_emulator=info".into()),
        )
        .init();
    let args = Args::parse();
    if let Some(secret) = &args.webhook_secret
        && secret.is_empty()
    {
        anyhow::bail!("--webhook-secret must not be empty");
    }
    let config = Config {
        bind: args.bind,
        webhook_endpoints: args
            .webhook_url
            .zip(args.webhook_secret)
            .map(|(url, secret)| WebhookEndpointConfig { url, secret })
            .into_iter()
            .collect(),
        retry: RetryPolicy {
            initial_delay: Duration::from_millis(args.retry_initial_ms),
            max_retries: args.retry_max,
            ..RetryPolicy::default()
        },
        settlement_delay: Duration::from_millis(args.settlement_delay_ms),
        tax_rate_bps: args.tax_rate_bps,
        api_key: args.api_key,
        ..Config::default()
    };
    let running = Emulator::start(config).await?;
    println!("{}", running.base_url());
    tokio::signal::ctrl_c().await?;
    running.shutdown().await;
    Ok(())
}
