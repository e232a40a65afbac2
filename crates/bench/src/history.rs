//! History and search: a store filled with many messages through the store layer (batched
//! imports), then the latency of history pages and of one- and two-term searches as a
//! client sees them (TLS, XCCOS, the chat core, SQLite, the compliance record).

use std::path::{Path, PathBuf};
use std::time::Instant;

use parlance_client::HistoryQuery;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Env;
use crate::error::BenchError;
use crate::measure::Latency;
use crate::population;
use crate::report::{Row, Section, TargetCheck, settings};
use crate::target::{Target, Tuning};

/// Messages per import transaction.
pub(crate) const IMPORT_BATCH: usize = 50_000;
/// Distinct words of the synthetic vocabulary; their frequencies fall off like Zipf's law.
pub(crate) const VOCABULARY: usize = 20_000;
/// The word searched alone (rank 20: in a few percent of messages) and the one added for
/// two-term searches (rank 200).
const ONE_TERM: usize = 20;
const SECOND_TERM: usize = 200;
/// Messages per history page (the default join history).
const PAGE: u32 = 25;
/// What a cache directory holds besides the server's data.
const CACHE_FILE: &str = "bench-history.json";

#[derive(Debug, Clone, clap::Args)]
pub struct HistoryArgs {
    /// Messages in the store, spread evenly over the rooms.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: u64,
    #[arg(long, default_value_t = 10)]
    pub rooms: usize,
    /// Keep the filled data directory here and reuse it when it holds the same fill.
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Requests measured per kind.
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
}

/// What a cache directory was filled with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Filled {
    messages: u64,
    rooms: Vec<String>,
    fill_secs: f64,
}

/// The `rank`-th word of the vocabulary: pronounceable, distinct, deterministic.
pub(crate) fn word(rank: usize) -> String {
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "pe", "da", "go", "fu", "ze", "bi", "ho",
        "ya",
    ];
    let mut n = rank;
    let mut w = String::new();
    loop {
        w.push_str(SYLLABLES[n % 16]);
        n /= 16;
        if n == 0 {
            break;
        }
    }
    w.push_str(["n", "r", "s"][rank % 3]);
    w
}

/// A message of 6–16 words, word ranks log-uniform (frequency about 1/rank).
pub(crate) fn sentence(rng: &mut StdRng, words: &[String]) -> String {
    let n = rng.random_range(6..=16);
    let picks: Vec<&str> = (0..n)
        .map(|_| {
            let rank = (VOCABULARY as f64).powf(rng.random::<f64>()) as usize - 1;
            words[rank.min(VOCABULARY - 1)].as_str()
        })
        .collect();
    picks.join(" ")
}

pub async fn run(env: &Env, args: &HistoryArgs) -> Result<Section, BenchError> {
    let (dir, temporary) = match &args.cache {
        Some(d) => (d.clone(), false),
        None => (env.scratch("history")?, true),
    };
    let filled = fill(&dir, args).await;
    let measured = match filled {
        Ok(filled) => measure(env, &dir, args, &filled)
            .await
            .map(|rows| (rows, filled)),
        Err(e) => Err(e),
    };
    // Read before a scratch directory goes.
    let database_mib = file_mib(&dir.join("parlance.db"));
    if temporary {
        env.remove(&dir);
    }
    let ((rows, p99_page, p99_one, p99_two), filled) = measured?;
    let at = format!("{} messages", filled.messages);
    Ok(Section {
        scenario: "history and search".into(),
        settings: settings(&[
            ("messages", json!(filled.messages)),
            ("rooms", json!(filled.rooms.len())),
            ("samples", json!(args.samples)),
            ("page", json!(PAGE)),
            ("fill_s", json!(filled.fill_secs)),
            ("database_mib", json!(database_mib)),
        ]),
        rows,
        targets: vec![
            TargetCheck::new(
                "history page p99 < 5 ms at 10 M messages",
                format!("p99 {p99_page:.2} ms at {at}"),
                p99_page < 5.0 && filled.messages >= 10_000_000,
            ),
            TargetCheck::new(
                "one-term search p99 < 5 ms at 10 M messages",
                format!("p99 {p99_one:.2} ms at {at}"),
                p99_one < 5.0 && filled.messages >= 10_000_000,
            ),
            TargetCheck::new(
                "two-term search p99 < 5 ms at 10 M messages (issue 18)",
                format!("p99 {p99_two:.2} ms at {at}"),
                p99_two < 5.0 && filled.messages >= 10_000_000,
            ),
        ],
    })
}

fn file_mib(path: &Path) -> f64 {
    std::fs::metadata(path).map_or(0.0, |m| m.len() as f64 / 1024.0 / 1024.0)
}

/// Fills `dir` unless it already holds this fill (a cache); returns what it holds.
async fn fill(dir: &Path, args: &HistoryArgs) -> Result<Filled, BenchError> {
    let cache = dir.join(CACHE_FILE);
    if let Ok(text) = std::fs::read_to_string(&cache) {
        let filled: Filled = serde_json::from_str(&text)
            .map_err(|e| BenchError::Failed(format!("{}: {e}", cache.display())))?;
        if filled.messages == args.messages && filled.rooms.len() == args.rooms {
            return Ok(filled);
        }
        return Err(BenchError::Failed(format!(
            "{} holds {} messages in {} rooms, not {} in {}: name another --cache directory",
            dir.display(),
            filled.messages,
            filled.rooms.len(),
            args.messages,
            args.rooms
        )));
    }
    std::fs::create_dir_all(dir).map_err(BenchError::io(format!("creating {}", dir.display())))?;
    let started = Instant::now();
    let store = population::open_store(dir).await?;
    let author = population::add_users(&store, "historian", 1).await?;
    let author_id = store
        .user(&author[0])
        .await?
        .map(|u| u.id)
        .ok_or_else(|| BenchError::Failed("no author".into()))?;
    population::add_users(&store, "reader", 1).await?;
    let words: Vec<String> = (0..VOCABULARY).map(word).collect();
    let mut rng = StdRng::seed_from_u64(5);
    let per_room = args.messages / args.rooms.max(1) as u64;
    let mut rooms = Vec::with_capacity(args.rooms);
    // A year of history ending now, one message every few seconds.
    let mut posted_at = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64))
        - 365 * 86_400 * 1_000_000_000;
    let step = 365 * 86_400 * 1_000_000_000 / args.messages.max(1) as i64;
    for r in 0..args.rooms {
        let (room, uri) = population::add_room(&store, &format!("History {r}")).await?;
        let mut left = per_room;
        while left > 0 {
            let n = left.min(IMPORT_BATCH as u64) as usize;
            let texts: Vec<String> = (0..n).map(|_| sentence(&mut rng, &words)).collect();
            let rows: Vec<(&str, i64)> = texts
                .iter()
                .map(|t| {
                    posted_at += step;
                    (t.as_str(), posted_at)
                })
                .collect();
            store.import_messages(room.id, author_id, &rows).await?;
            left -= n as u64;
        }
        tracing::info!(room = r, "history room filled");
        rooms.push(uri);
    }
    store.close().await;
    let filled = Filled {
        messages: per_room * args.rooms as u64,
        rooms,
        fill_secs: started.elapsed().as_secs_f64(),
    };
    let text =
        serde_json::to_string_pretty(&filled).map_err(|e| BenchError::Failed(e.to_string()))?;
    std::fs::write(&cache, text).map_err(BenchError::io(format!("writing {}", cache.display())))?;
    Ok(filled)
}

#[derive(Serialize)]
struct Measured {
    requests: usize,
    latency: Latency,
    /// Messages returned per request, on average.
    mean_results: f64,
}

/// The rows, and the p99 in ms of a page at random, a one-term and a two-term search.
type Rows = (Vec<Row>, f64, f64, f64);
/// A kind of request measured: its name, and how to make one.
type QueryKind = (&'static str, Box<dyn Fn(&mut StdRng) -> HistoryQuery>);

async fn measure(
    env: &Env,
    dir: &Path,
    args: &HistoryArgs,
    filled: &Filled,
) -> Result<Rows, BenchError> {
    // The reader searches back to back: the per-user search rate limit (ten, then one
    // every two seconds) would refuse most of the samples.
    let tuning = Tuning {
        unlimited_search: true,
        ..Tuning::default()
    };
    let target = Target::start_with(dir, env.in_process, env.lifetime, tuning).await?;
    let result = async {
        let accounts = vec![format!("reader0@{}", crate::target::DOMAIN)];
        let (mut clients, _) =
            population::connect_and_join(&target, env, &accounts, |_| filled.rooms.clone()).await?;
        let (client, _events) = clients
            .pop()
            .ok_or_else(|| BenchError::Failed("no reader".into()))?;
        let per_room = filled.messages / filled.rooms.len().max(1) as u64;
        let mut rng = StdRng::seed_from_u64(7);
        let one = word(ONE_TERM);
        let two = format!("{} {}", word(ONE_TERM), word(SECOND_TERM));
        let kinds: [QueryKind; 4] = [
            ("latest page", Box::new(|_| HistoryQuery::Last(PAGE))),
            (
                "page at random",
                Box::new(move |rng: &mut StdRng| HistoryQuery::Before {
                    id: rng.random_range(PAGE as u64..=per_room.max(PAGE as u64)),
                    count: PAGE,
                }),
            ),
            (
                "search one term",
                Box::new(move |_| HistoryQuery::Search {
                    text: one.clone(),
                    count: PAGE,
                }),
            ),
            (
                "search two terms",
                Box::new(move |_| HistoryQuery::Search {
                    text: two.clone(),
                    count: PAGE,
                }),
            ),
        ];
        let mut rows = Vec::new();
        let (mut p99_page, mut p99_one, mut p99_two) = (0.0, 0.0, 0.0);
        for (name, query) in &kinds {
            let mut times = Vec::with_capacity(args.samples);
            let mut results = 0usize;
            for _ in 0..args.samples {
                let room = &filled.rooms[rng.random_range(0..filled.rooms.len())];
                let q = query(&mut rng);
                let started = Instant::now();
                results += client.history(room, q).await?.len();
                times.push(started.elapsed());
            }
            let latency = Latency::from_durations(&times);
            match *name {
                "page at random" => p99_page = latency.p99_ms,
                "search one term" => p99_one = latency.p99_ms,
                "search two terms" => p99_two = latency.p99_ms,
                _ => {}
            }
            rows.push(Row::of(
                name,
                &Measured {
                    requests: times.len(),
                    latency,
                    mean_results: results as f64 / times.len().max(1) as f64,
                },
            ));
        }
        rows.push(Row::of(
            "server memory",
            &json!({ "peak_rss_mib": target.sample().hwm_kib as f64 / 1024.0 }),
        ));
        client.close().await;
        Ok::<_, BenchError>((rows, p99_page, p99_one, p99_two))
    }
    .await;
    target.stop().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_distinct_and_sentences_deterministic() {
        let words: Vec<String> = (0..VOCABULARY).map(word).collect();
        let unique: std::collections::HashSet<&String> = words.iter().collect();
        assert_eq!(unique.len(), VOCABULARY);
        let a = sentence(&mut StdRng::seed_from_u64(1), &words);
        assert_eq!(a, sentence(&mut StdRng::seed_from_u64(1), &words));
        assert!(a.split(' ').count() >= 6);
    }
}
