//! Join storm: N signed-in users all join the same rooms with history (one `bjoin` each,
//! then a history page per room, as a client does on start) at the same moment.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{Semaphore, oneshot, watch};
use xccos::{Bcq, CommandKind};

use crate::Env;
use crate::error::BenchError;
use crate::lean::{self, Members};
use crate::measure::{Latency, ProcSample};
use crate::population;
use crate::report::{Row, Section, settings};
use crate::target::Target;
use crate::wire::{Dialer, source};

#[derive(Debug, Clone, clap::Args)]
pub struct JoinStormArgs {
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Rooms every user joins at once.
    #[arg(long, default_value_t = 10)]
    pub rooms: usize,
    /// Messages of history in each room.
    #[arg(long, default_value_t = 200)]
    pub history: usize,
}

pub async fn run(env: &Env, args: &JoinStormArgs) -> Result<Section, BenchError> {
    let dir = env.scratch("joinstorm")?;
    let store = population::open_store(&dir).await?;
    let accounts = population::add_users(&store, "joiner", args.users).await?;
    let author = store
        .user(&accounts[0])
        .await?
        .map(|u| u.id)
        .ok_or_else(|| BenchError::Failed("no author".into()))?;
    let mut rooms = Vec::with_capacity(args.rooms);
    for r in 0..args.rooms {
        let (room, uri) = population::add_room(&store, &format!("Storm {r}")).await?;
        let texts: Vec<String> = (0..args.history)
            .map(|i| format!("history line {i} of room {r}"))
            .collect();
        let rows: Vec<(&str, i64)> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str(), i as i64))
            .collect();
        store.import_messages(room.id, author, &rows).await?;
        rooms.push(uri);
    }
    store.close().await;
    let target = Target::start(&dir, env.in_process, env.lifetime).await?;
    let outcome = async {
        let storm = match env.members {
            Members::Full => full_storm(&target, env, &accounts, &rooms).await?,
            Members::Lean => lean_storm(&target, env, &accounts, &rooms).await?,
        };
        let seconds = storm.seconds;
        let joins = (storm.times.len() * rooms.len()) as f64;
        Ok::<_, BenchError>(vec![
            Row::of(
                "sign-in",
                &json!({ "users": storm.times.len(), "seconds": storm.sign_in.as_secs_f64() }),
            ),
            Row::of(
                "join storm",
                &json!({
                    "seconds": seconds,
                    "room_joins_per_s": joins / seconds.max(1e-9),
                    "per_user": Latency::from_durations(&storm.times),
                    "server_cpu_pct": storm.server.0.cpu_percent(&storm.server.1),
                    "bench_cpu_pct": storm.bench.0.cpu_percent(&storm.bench.1),
                    "peak_rss_mib": storm.server.1.hwm_kib as f64 / 1024.0,
                }),
            ),
        ])
    }
    .await;
    target.stop().await;
    env.remove(&dir);
    Ok(Section {
        scenario: "join storm".into(),
        settings: settings(&[
            ("users", json!(args.users)),
            ("rooms_each", json!(args.rooms)),
            ("history_per_room", json!(args.history)),
            ("history_per_join", json!(1)),
            ("members_driven", json!(env.members.describe())),
        ]),
        rows: outcome?,
        targets: Vec::new(),
    })
}

/// What a storm measured: how long signing in took, each user's time to join every room
/// and read its history, and the server and this process sampled around the storm.
struct Storm {
    sign_in: Duration,
    times: Vec<Duration>,
    seconds: f64,
    server: (ProcSample, ProcSample),
    bench: (ProcSample, ProcSample),
}

impl Storm {
    /// Runs `storm` (which hands back each user's time) between two samples.
    async fn measure(
        target: &Target,
        sign_in: Duration,
        storm: impl Future<Output = Result<Vec<Duration>, BenchError>>,
    ) -> Result<Storm, BenchError> {
        let (server, bench) = (target.sample(), ProcSample::read(std::process::id()));
        let started = Instant::now();
        let times = storm.await?;
        let seconds = started.elapsed().as_secs_f64();
        Ok(Storm {
            sign_in,
            times,
            seconds,
            server: (server, target.sample()),
            bench: (bench, ProcSample::read(std::process::id())),
        })
    }
}

/// Each user's time, in order; the first failure fails the storm.
async fn gather(
    users: Vec<impl Future<Output = Result<Duration, BenchError>>>,
) -> Result<Vec<Duration>, BenchError> {
    let mut times = Vec::with_capacity(users.len());
    for user in users {
        times.push(user.await?);
    }
    Ok(times)
}

/// Clients of the client library: `join_many`, which is one `bjoin` and then a history
/// page per room.
async fn full_storm(
    target: &Target,
    env: &Env,
    accounts: &[String],
    rooms: &[String],
) -> Result<Storm, BenchError> {
    let (clients, sign_in) =
        population::connect_and_join(target, env, accounts, |_| Vec::new()).await?;
    Storm::measure(target, sign_in, async {
        let mut tasks = Vec::with_capacity(clients.len());
        for (client, _events) in &clients {
            let (client, rooms) = (client.clone(), rooms.to_vec());
            tasks.push(tokio::spawn(async move {
                let refs: Vec<&str> = rooms.iter().map(String::as_str).collect();
                let t = Instant::now();
                let joined = client.join_many(&refs).await?;
                if !joined.failed.is_empty() || joined.joined.len() != refs.len() {
                    return Err(BenchError::Failed(format!(
                        "{} joined {} of {} rooms",
                        client.user(),
                        joined.joined.len(),
                        refs.len()
                    )));
                }
                Ok::<_, BenchError>(t.elapsed())
            }));
        }
        gather(
            tasks
                .into_iter()
                .map(|t| async {
                    t.await
                        .map_err(|e| BenchError::Failed(format!("a joiner failed: {e}")))?
                })
                .collect(),
        )
        .await
    })
    .await
}

/// Lean members: the same `bjoin` and history page per room on raw connections; each
/// member goes on answering the server once it is done (roster notices of later joiners).
async fn lean_storm(
    target: &Target,
    env: &Env,
    accounts: &[String],
    rooms: &[String],
) -> Result<Storm, BenchError> {
    let dialer = Dialer::new((!env.tcp).then(|| target.cert_path()).as_deref())?;
    let to = target.sip_addr(env.tcp);
    let started = Instant::now();
    let mut signing = Vec::with_capacity(accounts.len());
    let permits = Arc::new(Semaphore::new(lean::SIGNING_IN_AT_ONCE));
    for (i, account) in accounts.iter().enumerate() {
        let (dialer, account, permits) = (dialer.clone(), account.clone(), permits.clone());
        let from = source(i, env.sources);
        signing.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            lean::sign_in(&dialer, from, to, &account).await
        }));
    }
    let mut sessions = Vec::with_capacity(signing.len());
    for s in signing {
        sessions.push(
            s.await
                .map_err(|e| BenchError::Failed(format!("a sign-in failed: {e}")))??,
        );
    }
    // Members answer until the storm is over and measured.
    let (_stop, stopped) = watch::channel(false);
    Storm::measure(target, started.elapsed(), async {
        let mut tasks = Vec::with_capacity(sessions.len());
        for (mut conn, mut dialog) in sessions {
            let (rooms, stopped) = (rooms.to_vec(), stopped.clone());
            let (took, done) = oneshot::channel();
            tokio::spawn(async move {
                let t = Instant::now();
                let storm = async {
                    dialog.bjoin(&mut conn, &rooms).await?;
                    for room in rooms {
                        let history = CommandKind::BcContext {
                            channel_uri: room,
                            query: Bcq::Last { cnt: 1 },
                        };
                        dialog.command(&mut conn, history).await?;
                    }
                    Ok(t.elapsed())
                };
                let outcome = storm.await;
                let failed = outcome.is_err();
                let _ = took.send(outcome);
                if !failed {
                    lean::answer_until(conn, stopped).await;
                }
            });
            tasks.push(async move {
                done.await
                    .unwrap_or_else(|_| Err(BenchError::Failed("a member's task ended".into())))
            });
        }
        gather(tasks).await
    })
    .await
}
