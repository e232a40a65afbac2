//! Files (issue 12, "Performance"): a file's throughput up and down through the SOAP service
//! (`AppendChunk`/`DownloadChunk`) and through the plain API, side by side with a bare HTTPS
//! copy of the same bytes on the same TLS stack; the server's memory during each transfer;
//! and a chat room's delivery latency without uploads and then while uploads run.
//!
//! One server serves it all, with file limits that let the file through. The transfers
//! come first, while nobody else is connected; then the room's members and the uploaders
//! sign in.

mod bare;
mod https;
mod load;
mod throughput;
mod ways;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use self::https::Content;
use self::load::{Destination, LoadResult, UploadLoad};
use self::throughput::{MB, Measured, Rounds, Summary};
use self::ways::Way;
use crate::Env;
use crate::baseline::Baseline;
use crate::error::BenchError;
use crate::fanout::{ClientRoom, FanoutArgs, PhaseResult};
use crate::measure::{Latency, PeakRss};
use crate::population;
use crate::report::{Row, Section, TargetCheck, settings};
use crate::target::{Target, Tuning, bench_config};
use crate::wire::{self, Dialer};

pub use self::bare::bare_child;

/// How long the server settles before its idle memory is read, and receivers start before
/// the first post.
const SETTLE: Duration = Duration::from_secs(2);
/// How long the uploads run before the chat phase they load begins.
const WARM_UP: Duration = Duration::from_secs(2);
/// Members of the chat room that post (in turn, at the set rate).
const CHAT_POSTERS: usize = 8;
/// Bytes of chat text per message.
const TEXT_BYTES: usize = 100;

/// The targets.
const PLAIN_VS_BARE: f64 = 0.7;
const SOAP_VS_BARE: f64 = 0.4;
const MAX_RSS_ABOVE_IDLE_MIB: f64 = 32.0;
const MAX_P99_GROWTH: f64 = 1.5;

#[derive(Debug, Clone, clap::Args)]
pub struct FilesArgs {
    /// Size of the file moved each way, in MB (10^6 bytes).
    #[arg(long, default_value_t = 100)]
    pub size_mb: u64,
    /// Rounds of the three ways, interleaved; the tables show medians (0 skips them).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Members of the chat room measured against uploads (0 skips that part).
    #[arg(long, default_value_t = 1000)]
    pub members: usize,
    /// Posts per second in the chat room.
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// Seconds of chat without uploads, and as many with them. A phase's p99 is a tail of
    /// its posts, not of its deliveries: a post's thousand deliveries are late together, so
    /// at 5 msg/s it takes a minute (300 posts) for the p99 to be more than the slowest one
    /// or two posts of the phase.
    #[arg(long, default_value_t = 60)]
    pub duration: u64,
    /// Uploads running at once while the room chats.
    #[arg(long, default_value_t = 50)]
    pub uploads: usize,
    /// Size of each of those uploads, in MB.
    #[arg(long, default_value_t = 4)]
    pub upload_mb: u64,
    /// The SOAP chunk the server announces, in KiB (default: the server's default).
    #[arg(long)]
    pub chunk_kb: Option<u64>,
    /// Each of those uploads' pace in MB/s, as over a slower link (default: as fast as
    /// loopback goes).
    #[arg(long)]
    pub upload_mb_per_s: Option<f64>,
    /// The server's `files.yield_to_chat_ms` (default: the server's default); 0 lets
    /// transfers run without ever waiting for the chat.
    #[arg(long)]
    pub yield_to_chat_ms: Option<u64>,
}

/// The chat room without uploads and with them.
#[derive(Debug)]
struct ChatOutcome {
    quiet: PhaseResult,
    busy: PhaseResult,
    load: LoadResult,
    peak_rss_above_idle_mib: f64,
}

/// Who takes part, written into the store before the server starts.
struct Cast {
    filer: Vec<String>,
    uploaders: Vec<String>,
    members: Vec<String>,
    files_uri: String,
    files_guid: String,
    /// The files room's directory in the server's file store.
    files_blobs: PathBuf,
    chat_uri: String,
}

pub async fn run(env: &Env, args: &FilesArgs) -> Result<Section, BenchError> {
    let size = bytes(args.size_mb)?;
    let upload_size = bytes(args.upload_mb)?;
    let dir = env.scratch("files")?;
    let chunk_kib = args
        .chunk_kb
        .unwrap_or_else(|| bench_config(&dir).files.max_chunk_kb);
    let outcome = measure(env, args, &dir, size, upload_size).await;
    env.remove(&dir);
    let (transfers, chat) = outcome?;
    Ok(section(args, chunk_kib, &transfers, chat.as_ref()))
}

fn bytes(mb: u64) -> Result<usize, BenchError> {
    mb.checked_mul(MB)
        .and_then(|b| usize::try_from(b).ok())
        .ok_or_else(|| BenchError::Failed(format!("{mb} MB do not fit in memory")))
}

async fn measure(
    env: &Env,
    args: &FilesArgs,
    dir: &Path,
    size: usize,
    upload_size: usize,
) -> Result<(Vec<Measured>, Option<ChatOutcome>), BenchError> {
    let (server_dir, bare_dir) = (dir.join("server"), dir.join("bare"));
    std::fs::create_dir_all(&bare_dir)
        .map_err(BenchError::io(format!("creating {}", bare_dir.display())))?;
    let cast = cast(&server_dir, args).await?;
    let tuning = Tuning {
        max_file_bytes: Some(size.max(upload_size) as u64),
        max_chunk_kb: args.chunk_kb,
        yield_to_chat_ms: args.yield_to_chat_ms,
        ..Tuning::default()
    };
    let target = Target::start_with(&server_dir, env.in_process, env.lifetime, tuning).await?;
    let measured = async {
        let bare = bare::start(
            &target.cert_path(),
            &target.key_path(),
            &bare_dir,
            env.in_process,
            env.lifetime,
        )
        .await?;
        let measured = async {
            let transfers = rounds(env, args, &target, &bare, &cast, size).await?;
            let chat = match args.members {
                0 => None,
                _ => Some(chat(env, args, &target, &cast, upload_size).await?),
            };
            Ok((transfers, chat))
        }
        .await;
        bare.stop().await;
        measured
    }
    .await;
    target.stop().await;
    measured
}

async fn cast(server_dir: &Path, args: &FilesArgs) -> Result<Cast, BenchError> {
    let store = population::open_store(server_dir).await?;
    let filer = population::add_users(&store, "filer", 1).await?;
    let uploaders = population::add_users(&store, "uploader", args.uploads).await?;
    let members = population::add_users(&store, "member", args.members).await?;
    let (files_room, files_uri) = population::add_room(&store, "Files").await?;
    let (_, chat_uri) = population::add_room(&store, "Chat").await?;
    store.close().await;
    let files_blobs = bench_config(server_dir).files_dir().join(&files_room.guid);
    Ok(Cast {
        filer,
        uploaders,
        members,
        files_uri,
        files_guid: files_room.guid,
        files_blobs,
        chat_uri,
    })
}

/// The rounds of the three ways, by one signed-in user.
async fn rounds(
    env: &Env,
    args: &FilesArgs,
    target: &Target,
    bare: &Baseline,
    cast: &Cast,
    size: usize,
) -> Result<Vec<Measured>, BenchError> {
    if args.rounds == 0 {
        return Ok(Vec::new());
    }
    let content = Content::new(size);
    let (filer, _) = population::connect_and_join(target, env, &cast.filer, |_| Vec::new()).await?;
    let (client, _events) = filer
        .into_iter()
        .next()
        .ok_or_else(|| BenchError::Failed("the filer did not sign in".into()))?;
    let dialer = Dialer::new(Some(&target.cert_path()))?;
    tokio::time::sleep(SETTLE).await;
    Rounds {
        target,
        bare,
        client: &client,
        room_uri: &cast.files_uri,
        room_guid: &cast.files_guid,
        dialer: &dialer,
        from: wire::source(0, env.sources),
        content: &content,
    }
    .measure(args.rounds)
    .await
}

/// The chat room's latency alone, then with the uploads running.
async fn chat(
    env: &Env,
    args: &FilesArgs,
    target: &Target,
    cast: &Cast,
    upload_size: usize,
) -> Result<ChatOutcome, BenchError> {
    let fanout = FanoutArgs {
        members: args.members,
        rate: args.rate,
        duration: args.duration,
        posters: CHAT_POSTERS,
        size: TEXT_BYTES,
        no_baseline: true,
    };
    let room = ClientRoom::join(target, env, &cast.members, &cast.chat_uri, CHAT_POSTERS).await?;
    let (uploaders, _) =
        population::connect_and_join(target, env, &cast.uploaders, |_| Vec::new()).await?;
    // Uploaders join no room, so their events (none worth reading) are let go.
    let uploaders: Vec<_> = uploaders
        .into_iter()
        .map(|(client, _events)| client)
        .collect();
    let destination = Destination {
        room_uri: cast.files_uri.clone(),
        https: target.https_addr,
        dialer: Dialer::new(Some(&target.cert_path()))?,
        sources: env.sources,
        pace: args.upload_mb_per_s.map(|mb| mb * MB as f64),
        blobs: cast.files_blobs.clone(),
    };
    let upload = Content::new(upload_size).bytes;
    tokio::time::sleep(SETTLE).await;
    let idle_kib = target.sample().rss_kib;
    let quiet = room.paced(&fanout, 0, || target.sample().into()).await;
    let load = UploadLoad::start(&uploaders, &destination, &upload)?;
    tokio::time::sleep(WARM_UP).await;
    let peak = PeakRss::start(target.pid());
    let busy = room.paced(&fanout, 1, || target.sample().into()).await;
    let peak_kib = peak.stop().await;
    let load = load.stop().await;
    let deliveries = room.finish().await?;
    Ok(ChatOutcome {
        quiet: deliveries.result(&quiet),
        busy: deliveries.result(&busy),
        load,
        peak_rss_above_idle_mib: peak_kib.saturating_sub(idle_kib) as f64 / 1024.0,
    })
}

/// A way's row: its summary and its rate against the bare copy's.
#[derive(Serialize)]
struct WayRow<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    vs_bare: f64,
}

fn section(
    args: &FilesArgs,
    chunk_kib: u64,
    transfers: &[Measured],
    chat: Option<&ChatOutcome>,
) -> Section {
    let mut rows = Vec::new();
    let mut targets = Vec::new();
    let bare = transfers.iter().find(|m| m.way == Way::Bare);
    for m in transfers {
        for (direction, summary, bare) in [
            ("upload", &m.upload, bare.map(|b| &b.upload)),
            ("download", &m.download, bare.map(|b| &b.download)),
        ] {
            let vs_bare = ratio(summary, bare);
            rows.push(Row::of(
                &format!("{} {direction}", m.way.name()),
                &WayRow { summary, vs_bare },
            ));
        }
    }
    for (way, least) in [(Way::Plain, PLAIN_VS_BARE), (Way::Soap, SOAP_VS_BARE)] {
        if let (Some(m), Some(bare)) = (transfers.iter().find(|m| m.way == way), bare) {
            targets.push(throughput_check(m, bare, least));
        }
    }
    let served: Vec<&Summary> = transfers
        .iter()
        .filter(|m| m.way != Way::Bare)
        .flat_map(|m| [&m.upload, &m.download])
        .collect();
    if let Some(peak) = served
        .iter()
        .map(|s| s.peak_rss_above_idle_mib)
        .reduce(f64::max)
    {
        targets.push(TargetCheck::new(
            &format!("server RSS < {MAX_RSS_ABOVE_IDLE_MIB} MiB above idle during a transfer"),
            format!(
                "peak {peak:.1} MiB above idle moving a {} MB file",
                args.size_mb
            ),
            peak < MAX_RSS_ABOVE_IDLE_MIB,
        ));
    }
    if let Some(chat) = chat {
        let busy_name = format!("chat, {} uploads", args.uploads);
        rows.push(Row::of("chat, no uploads", &chat.quiet));
        rows.push(Row::of(&busy_name, &chat.busy));
        rows.push(Row::of(
            "uploads during chat",
            &json!({
                "uploads": chat.load.uploads,
                "failed": chat.load.failed,
                "mb_per_s": chat.load.mb_per_s,
                "peak_rss_above_idle_mib": chat.peak_rss_above_idle_mib,
            }),
        ));
        let (quiet, busy) = (&chat.quiet.latency, &chat.busy.latency);
        let growth = if quiet.p99_ms > 0.0 {
            busy.p99_ms / quiet.p99_ms
        } else {
            0.0
        };
        targets.push(TargetCheck::new(
            &format!(
                "{}-member room p99 with {} uploads <= {MAX_P99_GROWTH} x without",
                args.members, args.uploads
            ),
            format!(
                "p99 {:.1} ms with, {:.1} ms without = {growth:.2} at {} msg/s, {} and {} posts \
                 (p50 / p90 / max {} with, {} without)",
                busy.p99_ms,
                quiet.p99_ms,
                args.rate,
                chat.busy.posts,
                chat.quiet.posts,
                tail(busy),
                tail(quiet),
            ),
            quiet.p99_ms > 0.0 && growth <= MAX_P99_GROWTH,
        ));
    }
    Section {
        scenario: "files".into(),
        settings: settings(&[
            ("file_mb", json!(args.size_mb)),
            ("rounds", json!(args.rounds)),
            ("soap_chunk_kib", json!(chunk_kib)),
            ("members", json!(args.members)),
            ("rate_per_s", json!(args.rate)),
            ("duration_s", json!(args.duration)),
            ("uploads", json!(args.uploads)),
            ("upload_mb", json!(args.upload_mb)),
            (
                "upload_mb_per_s",
                args.upload_mb_per_s
                    .map_or(json!("unpaced"), |mb| json!(mb)),
            ),
            (
                "yield_to_chat_ms",
                args.yield_to_chat_ms
                    .map_or(json!("default"), |ms| json!(ms)),
            ),
        ]),
        rows,
        targets,
    }
}

/// A phase's p50 / p90 / max, for the target's line beside its p99.
fn tail(latency: &Latency) -> String {
    format!(
        "{:.1} / {:.1} / {:.1} ms",
        latency.p50_ms, latency.p90_ms, latency.max_ms
    )
}

/// `summary`'s median rate over the bare copy's (1 for the bare copy itself).
fn ratio(summary: &Summary, bare: Option<&Summary>) -> f64 {
    match bare {
        Some(bare) if bare.mb_per_s > 0.0 => summary.mb_per_s / bare.mb_per_s,
        _ => 0.0,
    }
}

/// `m` ≥ `least` × the bare copy, up and down.
fn throughput_check(m: &Measured, bare: &Measured, least: f64) -> TargetCheck {
    let up = ratio(&m.upload, Some(&bare.upload));
    let down = ratio(&m.download, Some(&bare.download));
    TargetCheck::new(
        &format!("{} >= {least} x bare copy", m.way.name()),
        format!(
            "upload {up:.2} ({:.1} / {:.1} MB/s), download {down:.2} ({:.1} / {:.1} MB/s)",
            m.upload.mb_per_s, bare.upload.mb_per_s, m.download.mb_per_s, bare.download.mb_per_s
        ),
        up >= least && down >= least,
    )
}
