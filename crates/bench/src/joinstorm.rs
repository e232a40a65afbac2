//! Join storm: N signed-in users all join the same rooms with history (one `bjoin` each,
//! then a history page per room, as a client does on start) at the same moment.

use std::time::Instant;

use serde_json::json;

use crate::Env;
use crate::error::BenchError;
use crate::measure::Latency;
use crate::population;
use crate::report::{Row, Section, settings};
use crate::target::Target;

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
        let (clients, connect) =
            population::connect_and_join(&target, env, &accounts, |_| Vec::new()).await?;
        let before = target.sample();
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(clients.len());
        for (client, _events) in &clients {
            let (client, rooms) = (client.clone(), rooms.clone());
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
        let mut times = Vec::with_capacity(tasks.len());
        for t in tasks {
            times.push(
                t.await
                    .map_err(|e| BenchError::Failed(format!("a joiner failed: {e}")))??,
            );
        }
        let storm = started.elapsed().as_secs_f64();
        let after = target.sample();
        let joins = (clients.len() * rooms.len()) as f64;
        Ok::<_, BenchError>(vec![
            Row::of(
                "sign-in",
                &json!({ "users": clients.len(), "seconds": connect.as_secs_f64() }),
            ),
            Row::of(
                "join storm",
                &json!({
                    "seconds": storm,
                    "room_joins_per_s": joins / storm.max(1e-9),
                    "per_user": Latency::from_durations(&times),
                    "server_cpu_pct": before.cpu_percent(&after),
                    "peak_rss_mib": after.hwm_kib as f64 / 1024.0,
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
        ]),
        rows: outcome?,
        targets: Vec::new(),
    })
}
