//! Idle connections: N registered connections that then say nothing; the server's resident
//! memory per connection. Raw connections (REGISTER, read the 200, hold), because a full
//! chat session per connection would measure more than an idle registered connection.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::Env;
use crate::error::BenchError;
use crate::lean::{Conn, register};
use crate::measure::ProcSample;
use crate::population;
use crate::report::{Row, Section, TargetCheck, settings};
use crate::target::Target;
use crate::wire::{Dialer, source};

/// How long the server may settle before its memory is read.
const SETTLE: Duration = Duration::from_secs(2);
/// Registrations in flight at once.
const AT_ONCE: usize = 128;
/// How long a registration may take.
const REGISTER_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, clap::Args)]
pub struct IdleArgs {
    /// Idle connections to hold.
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
}

pub async fn run(env: &Env, args: &IdleArgs) -> Result<Section, BenchError> {
    let dir = env.scratch("idle")?;
    let store = population::open_store(&dir).await?;
    let accounts = population::add_users(&store, "idle", args.connections).await?;
    store.close().await;
    let target = Target::start(&dir, env.in_process, env.lifetime).await?;
    let outcome = async {
        let dialer = Dialer::new((!env.tcp).then(|| target.cert_path()).as_deref())?;
        let to = target.sip_addr(env.tcp);
        // A few connections first, so that the baseline includes what any first one costs.
        let warm = open(
            &dialer,
            to,
            &accounts[..accounts.len().min(8)],
            env.sources,
            0,
        )
        .await?;
        tokio::time::sleep(SETTLE).await;
        let (before, bench_before) = (target.sample(), ProcSample::read(std::process::id()));
        let started = Instant::now();
        let held = open(
            &dialer,
            to,
            &accounts[warm.len()..],
            env.sources,
            warm.len(),
        )
        .await?;
        let connect_s = started.elapsed().as_secs_f64();
        tokio::time::sleep(SETTLE).await;
        let (after, bench_after) = (target.sample(), ProcSample::read(std::process::id()));
        // CPU seconds of the registrations (and the settling after them), both sides.
        let cpu_s = (
            after.cpu_secs - before.cpu_secs,
            bench_after.cpu_secs - bench_before.cpu_secs,
        );
        // The warm connections are registered too, but their memory is in `before`: the
        // figure per connection is over the others alone.
        let registered = warm.len() + held.len();
        let n = held.len() as f64;
        let per_conn_kib = (after.rss_kib.saturating_sub(before.rss_kib)) as f64 / n.max(1.0);
        drop((warm, held));
        Ok::<_, BenchError>((before, after, per_conn_kib, connect_s, n, registered, cpu_s))
    }
    .await;
    target.stop().await;
    env.remove(&dir);
    let (before, after, per_conn_kib, connect_s, n, registered, (server_cpu_s, bench_cpu_s)) =
        outcome?;
    let per_conn_kb = per_conn_kib * 1.024;
    Ok(Section {
        scenario: "idle connections".into(),
        settings: settings(&[
            ("connections", json!(args.connections)),
            ("source_addresses", json!(env.sources.min(args.connections))),
        ]),
        rows: vec![Row::of(
            "server",
            &json!({
                "registered": registered,
                "measured_connections": n,
                "register_per_s": n / connect_s.max(1e-9),
                "rss_before_mib": before.rss_kib as f64 / 1024.0,
                "rss_after_mib": after.rss_kib as f64 / 1024.0,
                "peak_rss_mib": after.hwm_kib as f64 / 1024.0,
                "server_cpu_s": server_cpu_s,
                "bench_cpu_s": bench_cpu_s,
                "kib_per_connection": per_conn_kib,
            }),
        )],
        targets: {
            let mut checks = vec![TargetCheck::new(
                "every idle connection registers",
                format!("{registered} of {}", args.connections),
                registered == args.connections,
            )];
            // The memory target is about TLS; over TCP the figure shows what TLS adds.
            if !env.tcp {
                checks.push(TargetCheck::new(
                    "<= 8 KB server memory per idle TLS connection (issue 18)",
                    format!("{per_conn_kb:.1} KB per connection"),
                    per_conn_kb <= 8.0,
                ));
            }
            checks
        },
    })
}

/// Opens and registers one connection per account, [`AT_ONCE`] at a time.
async fn open(
    dialer: &Dialer,
    to: std::net::SocketAddr,
    accounts: &[String],
    sources: usize,
    offset: usize,
) -> Result<Vec<Conn>, BenchError> {
    let mut held = Vec::with_capacity(accounts.len());
    for (c, chunk) in accounts.chunks(AT_ONCE).enumerate() {
        let mut tasks = Vec::with_capacity(chunk.len());
        for (j, account) in chunk.iter().enumerate() {
            let i = offset + c * AT_ONCE + j;
            let (dialer, account) = (dialer.clone(), account.clone());
            tasks.push(tokio::spawn(async move {
                let mut conn = Conn::open(&dialer, source(i, sources), to).await?;
                tokio::time::timeout(REGISTER_WAIT, register(&mut conn, &account))
                    .await
                    .map_err(|_| {
                        BenchError::Failed(format!("no answer to {account}'s REGISTER"))
                    })??;
                Ok::<_, BenchError>(conn)
            }));
        }
        for t in tasks {
            held.push(
                t.await.map_err(|e| {
                    BenchError::Failed(format!("a registration task failed: {e}"))
                })??,
            );
        }
    }
    Ok(held)
}
