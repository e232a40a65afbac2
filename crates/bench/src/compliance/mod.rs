//! Compliance export (issue 14, "Performance"): the outbox filled with a million events,
//! exported by `parlance-compliance` as XML; events/s and the exporting process's peak
//! memory, side by side in the same run with a plain sequential write of as many bytes to
//! the same disk (the limit); then a busy room's delivery latency without an export and
//! while the same events are exported again. A tenth of the events is exported first, to
//! show that the exporter's memory does not grow with their number.
//!
//! The events are written straight into the store before the server starts, dated two days
//! back, so that an export up to the last of them exports exactly them whatever the server
//! adds. Exported rows are kept (no pruning), and the export cursor is moved back to the
//! start before each export after the first.

mod disk;
mod exporter;
mod fill;

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;

use self::disk::Sequential;
use self::exporter::ExportRun;
use self::fill::Cast;
use crate::Env;
use crate::error::BenchError;
use crate::fanout::{ClientRoom, FanoutArgs, PhaseResult};
use crate::population;
use crate::report::{Row, Section, TargetCheck, settings};
use crate::target::Target;

pub use self::exporter::export_child;

/// The targets.
const MIN_VS_DISK: f64 = 0.5;
/// "Memory flat in the number of events": the peak RSS exporting all the events against
/// exporting a tenth of them.
const MAX_RSS_GROWTH: f64 = 1.25;
const MAX_P99_GROWTH: f64 = 1.2;
/// How long the server settles before the first post, and the export runs before the busy
/// phase begins.
const SETTLE: Duration = Duration::from_secs(2);
const WARM_UP: Duration = Duration::from_secs(1);
/// Members of the busy room that post, and the bytes of each post.
const CHAT_POSTERS: usize = 8;
const TEXT_BYTES: usize = 100;

#[derive(Debug, Clone, clap::Args)]
pub struct ComplianceArgs {
    /// Outbox events exported.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Bytes of text in each chat event.
    #[arg(long, default_value_t = 100)]
    pub content_bytes: usize,
    /// Members of the busy room (0 skips the chat part).
    #[arg(long, default_value_t = 1000)]
    pub members: usize,
    /// Posts per second in the busy room.
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// Seconds of chat without the export, and as many with it.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
}

/// What one export achieved, as a table row.
#[derive(Debug, Serialize)]
struct ExportRow {
    events: u64,
    mb: f64,
    secs: f64,
    events_per_s: f64,
    mb_per_s: f64,
    peak_rss_mib: f64,
    /// CPU per event (all the exporting process's threads), and CPU over wall time: 100
    /// is one core busy throughout.
    cpu_us_per_event: f64,
    cpu_percent: f64,
}

impl ExportRow {
    fn of(run: &ExportRun) -> ExportRow {
        let e = &run.exported;
        let secs = e.secs.max(1e-9);
        ExportRow {
            events: e.events,
            mb: e.bytes as f64 / 1e6,
            secs: e.secs,
            events_per_s: e.events as f64 / secs,
            mb_per_s: e.bytes as f64 / 1e6 / secs,
            peak_rss_mib: run.peak_rss_kib as f64 / 1024.0,
            cpu_us_per_event: e.cpu_secs * 1e6 / e.events.max(1) as f64,
            cpu_percent: 100.0 * e.cpu_secs / secs,
        }
    }
}

/// The busy room without the export and with it.
struct ChatOutcome {
    quiet: PhaseResult,
    busy: PhaseResult,
    /// The exports run back to back from the warm-up to the end of the busy phase.
    exports: Vec<ExportRun>,
    /// The share of that time an export was running (the rest: a rewind and the next
    /// exporting process starting).
    exporting: f64,
}

struct Outcome {
    tenth: ExportRun,
    alone: ExportRun,
    disk: Sequential,
    chat: Option<ChatOutcome>,
}

pub async fn run(env: &Env, args: &ComplianceArgs) -> Result<Section, BenchError> {
    let dir = env.scratch("compliance")?;
    let outcome = measure(env, args, &dir).await;
    env.remove(&dir);
    Ok(section(args, &outcome?))
}

async fn measure(env: &Env, args: &ComplianceArgs, dir: &Path) -> Result<Outcome, BenchError> {
    let server_dir = dir.join("server");
    let cast = fill::fill(&server_dir, args.events, args.content_bytes, args.members).await?;
    // A tenth of the events first: the exporter's memory must not grow with their number.
    let tenth = exporter::start(
        env,
        &server_dir,
        &dir.join("archive-tenth"),
        cast.until(args.events / 10),
    )
    .await?
    .finish()
    .await?;
    rewind(&server_dir).await?;
    let alone = exporter::start(
        env,
        &server_dir,
        &dir.join("archive"),
        cast.until(args.events),
    )
    .await?
    .finish()
    .await?;
    let disk = disk::write(&dir.join("sequential.bin"), alone.exported.bytes).await?;
    let chat = match args.members {
        0 => None,
        _ => Some(chat(env, args, &server_dir, &dir.join("archive-again"), &cast).await?),
    };
    Ok(Outcome {
        tenth,
        alone,
        disk,
        chat,
    })
}

/// The busy room's latency alone, then while the filled events are exported again.
async fn chat(
    env: &Env,
    args: &ComplianceArgs,
    server_dir: &Path,
    out: &Path,
    cast: &Cast,
) -> Result<ChatOutcome, BenchError> {
    let fanout = FanoutArgs {
        members: args.members,
        rate: args.rate,
        duration: args.duration,
        posters: CHAT_POSTERS,
        size: TEXT_BYTES,
        no_baseline: true,
    };
    let target = Target::start(server_dir, env.in_process, env.lifetime).await?;
    let outcome = async {
        let room =
            ClientRoom::join(&target, env, &cast.members, &cast.chat_uri, CHAT_POSTERS).await?;
        tokio::time::sleep(SETTLE).await;
        let quiet = room.paced(&fanout, 0, || target.sample().into()).await;
        let (busy_over, busy_over_rx) = watch::channel(false);
        let started = Instant::now();
        let exporting = exports_until(env, server_dir, out, cast.until(cast.events), busy_over_rx);
        let busy = async {
            tokio::time::sleep(WARM_UP).await;
            let busy = room.paced(&fanout, 1, || target.sample().into()).await;
            let _ = busy_over.send(true);
            busy
        };
        let (exports, busy) = tokio::join!(exporting, busy);
        let exports = exports?;
        let span = exports
            .last()
            .map_or(0.0, |last| last.ended.duration_since(started).as_secs_f64());
        let exported: f64 = exports.iter().map(|run| run.exported.secs).sum();
        let deliveries = room.finish().await?;
        Ok(ChatOutcome {
            quiet: deliveries.result(&quiet),
            busy: deliveries.result(&busy),
            exporting: if span > 0.0 { exported / span } else { 0.0 },
            exports,
        })
    }
    .await;
    target.stop().await;
    outcome
}

/// Exports the filled events again and again, each time from the start, until the busy
/// phase is over: an export of a million events takes a few seconds, the phase longer, and
/// the phase is to be measured with an export running throughout.
async fn exports_until(
    env: &Env,
    server_dir: &Path,
    out: &Path,
    until: i64,
    busy_over: watch::Receiver<bool>,
) -> Result<Vec<ExportRun>, BenchError> {
    let mut runs = Vec::new();
    while !*busy_over.borrow() {
        rewind(server_dir).await?;
        let run = exporter::start(env, server_dir, out, until)
            .await?
            .finish()
            .await?;
        runs.push(run);
    }
    Ok(runs)
}

/// Moves the export cursor back to the start, so that the filled events are exported again.
async fn rewind(server_dir: &Path) -> Result<(), BenchError> {
    let store = population::open_store(server_dir).await?;
    let cursor = store.export_cursor().await?;
    let now = jiff::Timestamp::now().as_nanosecond() as i64;
    store.move_export_cursor(cursor, 0, now).await?;
    store.close().await;
    Ok(())
}

fn section(args: &ComplianceArgs, outcome: &Outcome) -> Section {
    let alone = ExportRow::of(&outcome.alone);
    let disk = &outcome.disk;
    let vs_disk = if disk.mb_per_s > 0.0 {
        alone.mb_per_s / disk.mb_per_s
    } else {
        0.0
    };
    let tenth = ExportRow::of(&outcome.tenth);
    let mut rows = vec![
        Row::of("export, a tenth of the events", &tenth),
        Row::of("export", &alone),
        Row::of("sequential write", disk),
    ];
    let mut targets = vec![TargetCheck::new(
        &format!("export >= {MIN_VS_DISK} x a sequential write of its bytes"),
        format!(
            "{vs_disk:.2}: {:.1} / {:.1} MB/s ({:.0} events/s, {:.2} µs CPU per event at {:.0} % CPU, peak RSS {:.1} MiB)",
            alone.mb_per_s,
            disk.mb_per_s,
            alone.events_per_s,
            alone.cpu_us_per_event,
            alone.cpu_percent,
            alone.peak_rss_mib
        ),
        vs_disk >= MIN_VS_DISK,
    )];
    let growth = if tenth.peak_rss_mib > 0.0 {
        alone.peak_rss_mib / tenth.peak_rss_mib
    } else {
        0.0
    };
    targets.push(TargetCheck::new(
        &format!("exporter peak RSS for all the events <= {MAX_RSS_GROWTH} x for a tenth"),
        format!(
            "{:.1} MiB for {}, {:.1} MiB for {} = {growth:.2}",
            alone.peak_rss_mib, alone.events, tenth.peak_rss_mib, tenth.events
        ),
        tenth.peak_rss_mib > 0.0 && growth <= MAX_RSS_GROWTH,
    ));
    if let Some(chat) = &outcome.chat {
        rows.push(Row::of("chat, no export", &chat.quiet));
        rows.push(Row::of("chat, export running", &chat.busy));
        let exports: Vec<ExportRow> = chat.exports.iter().map(ExportRow::of).collect();
        rows.push(Row::of(
            "exports during chat",
            &json!({
                "exports": exports.len(),
                "exporting_pct": 100.0 * chat.exporting,
                // Each export takes the same events again (the cursor is moved back first).
                "events_min": exports.iter().map(|e| e.events).min().unwrap_or(0),
                "events_max": exports.iter().map(|e| e.events).max().unwrap_or(0),
                "events_per_s": exports.iter().map(|e| e.events_per_s).sum::<f64>()
                    / exports.len().max(1) as f64,
            }),
        ));
        let (quiet, busy) = (chat.quiet.latency.p99_ms, chat.busy.latency.p99_ms);
        let growth = if quiet > 0.0 { busy / quiet } else { 0.0 };
        targets.push(TargetCheck::new(
            &format!(
                "{}-member room p99 with an export running < {MAX_P99_GROWTH} x without",
                args.members
            ),
            format!(
                "p99 {busy:.1} ms with, {quiet:.1} ms without = {growth:.2} at {} msg/s ({} exports back to back, exporting {:.0} % of the time)",
                args.rate,
                chat.exports.len(),
                100.0 * chat.exporting
            ),
            quiet > 0.0 && growth < MAX_P99_GROWTH,
        ));
    }
    Section {
        scenario: "compliance".into(),
        settings: settings(&[
            ("events", json!(args.events)),
            ("content_bytes", json!(args.content_bytes)),
            ("adapter", json!("xml")),
            ("members", json!(args.members)),
            ("rate_per_s", json!(args.rate)),
            ("duration_s", json!(args.duration)),
        ]),
        rows,
        targets,
    }
}
