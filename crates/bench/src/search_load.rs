//! Search load: one user searches a large room in a loop with the costliest query the
//! server accepts, while others post in rooms of their own; the latency of the posts'
//! answers without and then with the searcher. The server runs with the per-user search
//! rate limit lifted (by default it would refuse all but ten searches and then one every
//! two seconds), so the searches really run back to back: what is measured is whether a
//! search holds anything a post needs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parlance_client::{Client, ClientError, HistoryQuery};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;
use serde_json::json;

use crate::Env;
use crate::error::BenchError;
use crate::history::{IMPORT_BATCH, VOCABULARY, sentence, word};
use crate::measure::Latency;
use crate::population;
use crate::report::{Row, Section, TargetCheck, settings};
use crate::target::{DOMAIN, Target, Tuning};

/// Words in the searcher's query: the most the server accepts by default
/// (`chat.search_max_terms`), each among the most frequent, so that the most rows are read.
const QUERY_WORDS: usize = 16;
/// Messages a search asks for (the default history page).
const PAGE: u32 = 25;
/// Bytes of chat text per post.
const POST_SIZE: usize = 100;

#[derive(Debug, Clone, clap::Args)]
pub struct SearchLoadArgs {
    /// Messages in the room searched.
    #[arg(long, default_value_t = 200_000)]
    pub messages: u64,
    /// Users posting closed-loop, each in a room of its own.
    #[arg(long, default_value_t = 4)]
    pub posters: usize,
    /// Seconds of each phase: without the searcher, then with it.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
}

#[derive(Serialize)]
struct Posts {
    posts: usize,
    failed: usize,
    latency: Latency,
}

#[derive(Serialize)]
struct Searches {
    answered: usize,
    /// Refused with `413 ERR_LIMIT_EXCEEDED` (its time limit, since the rate is lifted).
    refused: usize,
    latency: Latency,
}

pub async fn run(env: &Env, args: &SearchLoadArgs) -> Result<Section, BenchError> {
    let dir = env.scratch("search-load")?;
    let result = measure(env, &dir, args).await;
    env.remove(&dir);
    let (rows, quiet_p99, loaded_p99) = result?;
    Ok(Section {
        scenario: "search load".into(),
        settings: settings(&[
            ("messages", json!(args.messages)),
            ("posters", json!(args.posters)),
            ("duration_s", json!(args.duration)),
            ("query_words", json!(QUERY_WORDS)),
            ("search_rate_limit", json!("lifted")),
        ]),
        rows,
        targets: vec![TargetCheck::new(
            "post answered p99 < 100 ms while one user searches in a loop",
            format!("p99 {loaded_p99:.2} ms (without the searcher {quiet_p99:.2} ms)"),
            loaded_p99 < 100.0,
        )],
    })
}

/// The searched room filled, the posters' rooms made; returns the searched room's URI and
/// the posters' (account, room URI).
async fn prepare(
    dir: &std::path::Path,
    args: &SearchLoadArgs,
) -> Result<(String, Vec<(String, String)>), BenchError> {
    let store = population::open_store(dir).await?;
    let author = population::add_users(&store, "historian", 1).await?;
    let author_id = store
        .user(&author[0])
        .await?
        .map(|u| u.id)
        .ok_or_else(|| BenchError::Failed("no author".into()))?;
    population::add_users(&store, "searcher", 1).await?;
    let posters = population::add_users(&store, "poster", args.posters).await?;
    let (searched, searched_uri) = population::add_room(&store, "Searched").await?;
    let words: Vec<String> = (0..VOCABULARY).map(word).collect();
    let mut rng = StdRng::seed_from_u64(11);
    let mut left = args.messages;
    while left > 0 {
        let n = left.min(IMPORT_BATCH as u64) as usize;
        let texts: Vec<String> = (0..n).map(|_| sentence(&mut rng, &words)).collect();
        let rows: Vec<(&str, i64)> = texts.iter().map(|t| (t.as_str(), 0)).collect();
        store.import_messages(searched.id, author_id, &rows).await?;
        left -= n as u64;
    }
    let mut pairs = Vec::with_capacity(posters.len());
    for (i, account) in posters.into_iter().enumerate() {
        let (_, uri) = population::add_room(&store, &format!("Posts {i}")).await?;
        pairs.push((account, uri));
    }
    store.close().await;
    Ok((searched_uri, pairs))
}

type Measured = (Vec<Row>, f64, f64);

async fn measure(
    env: &Env,
    dir: &std::path::Path,
    args: &SearchLoadArgs,
) -> Result<Measured, BenchError> {
    let (searched, posters) = prepare(dir, args).await?;
    let target = Target::start_with(
        dir,
        env.in_process,
        env.lifetime,
        Tuning {
            unlimited_search: true,
            ..Tuning::default()
        },
    )
    .await?;
    let result = async {
        let mut accounts: Vec<String> = posters.iter().map(|(a, _)| a.clone()).collect();
        accounts.push(format!("searcher0@{DOMAIN}"));
        let rooms_of = |i: usize| match posters.get(i) {
            Some((_, room)) => vec![room.clone()],
            None => vec![searched.clone()],
        };
        let (mut clients, _) =
            population::connect_and_join(&target, env, &accounts, rooms_of).await?;
        let (searcher, _searcher_events) = clients
            .pop()
            .ok_or_else(|| BenchError::Failed("no searcher".into()))?;
        let posting: Vec<(Arc<Client>, String)> = clients
            .into_iter()
            .zip(&posters)
            .map(|((client, _events), (_, room))| (Arc::new(client), room.clone()))
            .collect();
        let phase = Duration::from_secs(args.duration);

        let quiet = post_for(&posting, phase).await;
        let searcher = Arc::new(searcher);
        let stop = Arc::new(AtomicBool::new(false));
        let searching = tokio::spawn(search_loop(
            searcher.clone(),
            searched.clone(),
            stop.clone(),
        ));
        let loaded = post_for(&posting, phase).await;
        stop.store(true, Ordering::Relaxed);
        let searches = searching
            .await
            .map_err(|e| BenchError::Failed(format!("the searcher failed: {e}")))??;

        let (quiet_p99, loaded_p99) = (quiet.latency.p99_ms, loaded.latency.p99_ms);
        let rows = vec![
            Row::of("posts, nobody searching", &quiet),
            Row::of("posts, one user searching in a loop", &loaded),
            Row::of("searches (16 frequent words)", &searches),
            Row::of(
                "server memory",
                &json!({ "peak_rss_mib": target.sample().hwm_kib as f64 / 1024.0 }),
            ),
        ];
        searcher.close().await;
        for (client, _) in &posting {
            client.close().await;
        }
        Ok::<_, BenchError>((rows, quiet_p99, loaded_p99))
    }
    .await;
    target.stop().await;
    result
}

/// Every poster posts closed-loop in its own room for `phase`; the time from sending a post
/// to its answer, over all posters.
async fn post_for(posting: &[(Arc<Client>, String)], phase: Duration) -> Posts {
    let text = "x".repeat(POST_SIZE);
    let until = Instant::now() + phase;
    let tasks: Vec<_> = posting
        .iter()
        .map(|(client, room)| {
            let (client, room, text) = (client.clone(), room.clone(), text.clone());
            tokio::spawn(async move {
                let (mut times, mut failed) = (Vec::new(), 0);
                while Instant::now() < until {
                    let started = Instant::now();
                    match client.post(&room, &text).await {
                        Ok(()) => times.push(started.elapsed()),
                        Err(_) => failed += 1,
                    }
                }
                (times, failed)
            })
        })
        .collect();
    let (mut times, mut failed) = (Vec::new(), 0);
    for t in tasks {
        match t.await {
            Ok((t, f)) => {
                times.extend(t);
                failed += f;
            }
            Err(_) => failed += 1,
        }
    }
    Posts {
        posts: times.len(),
        failed,
        latency: Latency::from_durations(&times),
    }
}

/// Searches until told to stop; a refusal (the time limit) is counted, not an error.
async fn search_loop(
    client: Arc<Client>,
    room: String,
    stop: Arc<AtomicBool>,
) -> Result<Searches, BenchError> {
    let query: Vec<String> = (0..QUERY_WORDS).map(word).collect();
    let query = query.join(" ");
    let (mut times, mut refused) = (Vec::new(), 0);
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let asked = HistoryQuery::Search {
            text: query.clone(),
            count: PAGE,
        };
        match client.history(&room, asked).await {
            Ok(_) => times.push(started.elapsed()),
            Err(ClientError::Refused { code: 413, .. }) => refused += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Searches {
        answered: times.len(),
        refused,
        latency: Latency::from_durations(&times),
    })
}
