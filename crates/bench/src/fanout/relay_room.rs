//! The fan-out's baseline: the same room through the relay (module `relay`) instead of the
//! server, so that the server's cost per delivery is compared with the least a chat server
//! must do. Its members and process are the relay's own, hence a setup of its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::phases::Run;
use super::{FanoutArgs, FanoutOutcome};
use crate::Env;
use crate::delivery::shared;
use crate::error::BenchError;
use crate::lean::{self, Conn, Members};
use crate::posters::RawPoster;
use crate::receivers::raw_member;
use crate::relay;
use crate::wire::Dialer;

/// The baseline: the same room through the relay, members on raw connections spread over
/// the loopback source addresses: lean members, or (with full members) ones that do a
/// client's work per message (decode, parse, 200).
pub async fn run_relay(env: &Env, args: &FanoutArgs) -> Result<FanoutOutcome, BenchError> {
    // The relay presents a certificate like the server's: make one the same way.
    let dir = env.scratch("relay")?;
    let tls_files = if env.tcp {
        None
    } else {
        parlance_server::tls::Certificate::load(None, None, &dir, &["127.0.0.1".to_owned()])
            .map_err(|e| BenchError::Tls(e.to_string()))?;
        Some((dir.join("tls-cert.pem"), dir.join("tls-key.pem")))
    };
    let relay = relay::start(
        tls_files.as_ref().map(|(c, k)| (c.as_path(), k.as_path())),
        env.in_process,
        env.lifetime,
    )
    .await?;
    let outcome = async {
        let dialer = Dialer::new(tls_files.as_ref().map(|(c, _)| c.as_path()))?;
        let posters = args.posters.max(1);
        let (shared, echo_rx) = shared(posters);
        let (stop, stopped) = watch::channel(false);
        let started = Instant::now();
        let mut receivers = Vec::with_capacity(args.members);
        let (mut raw, mut lean) = (Vec::new(), Vec::new());
        for i in 0..args.members {
            let from = crate::wire::source(i, env.sources);
            let own = (i < posters).then(|| u32::try_from(i).unwrap_or(u32::MAX));
            let (shared, stopped) = (shared.clone(), stopped.clone());
            match env.members {
                Members::Lean => {
                    let conn = Conn::open(&dialer, from, relay.addr).await?;
                    let (poster, task) = lean::relay_member(conn, own, shared, stopped);
                    receivers.push(task);
                    lean.extend(poster.map(Arc::new));
                }
                Members::Full => {
                    let (stream, _) = dialer.connect(from, relay.addr).await?;
                    let (out, task) = raw_member(stream, own, shared, stopped);
                    receivers.push(task);
                    if own.is_some() {
                        raw.push(Arc::new(RawPoster { out }));
                    }
                }
            }
        }
        let setup = started.elapsed();
        // Every member must be registered with the relay before the first post.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let run = Run::new(args, &shared, args.members);
        let sample = || relay.sample().into();
        let (paced, saturated) = match env.members {
            Members::Lean => run.phases(&lean, echo_rx, receivers, stop, sample).await?,
            Members::Full => run.phases(&raw, echo_rx, receivers, stop, sample).await?,
        };
        Ok(FanoutOutcome {
            setup,
            setup_cost: None,
            paced,
            saturated,
            server_peak_rss_mib: relay.sample().hwm_kib as f64 / 1024.0,
        })
    }
    .await;
    relay.stop().await;
    env.remove(&dir);
    outcome
}
