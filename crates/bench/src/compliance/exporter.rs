//! The export under measure: `parlance-compliance`'s exporter run over the filled store as
//! a child process of its own (`parlance bench export-child`, so that its memory is its
//! own), or inside this process (for tests). The child opens the store, says it is ready,
//! exports, prints what it did as one JSON line, and waits for the bench process to let it
//! go, so that its high-water mark can still be read.

use std::path::Path;
use std::time::{Duration, Instant};

use parlance_clock::Clock;
use parlance_server::compliance::Background;
use parlance_server::installation::{self, Access};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::Env;
use crate::error::BenchError;
use crate::measure::{PeakRss, ProcSample};
use crate::target::{ChildProc, bench_config, until_parent_gone};

/// Exported rows stay in the outbox (nothing is pruned), so that the same events can be
/// exported again while chat runs.
const KEEP_EXPORTED: Duration = Duration::from_secs(100 * 365 * 86_400);

/// What one export did, as the exporting process reports it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Exported {
    pub events: u64,
    pub bytes: u64,
    pub secs: f64,
    /// CPU time the exporting process used meanwhile, all its threads (the database
    /// connections' included): on a machine shared with other work, what an export costs
    /// is better told by this than by its wall time.
    pub cpu_secs: f64,
}

/// An export and the memory of the process that ran it.
#[derive(Debug, Clone, Copy)]
pub struct ExportRun {
    pub exported: Exported,
    pub peak_rss_kib: u64,
    /// When the bench process learnt that it had finished.
    pub ended: Instant,
}

/// An export under way.
pub struct Running(JoinHandle<Result<ExportRun, BenchError>>);

impl Running {
    pub async fn finish(self) -> Result<ExportRun, BenchError> {
        self.0
            .await
            .map_err(|e| BenchError::Failed(format!("the export task stopped: {e}")))?
    }
}

/// Starts exporting the events of `server_dir` recorded up to `until` into `out`, from
/// wherever the export cursor is.
pub async fn start(
    env: &Env,
    server_dir: &Path,
    out: &Path,
    until: i64,
) -> Result<Running, BenchError> {
    std::fs::create_dir_all(out).map_err(BenchError::io(format!("creating {}", out.display())))?;
    if env.in_process {
        let exporter = exporter(server_dir, out).await?;
        let peak = PeakRss::start(std::process::id());
        return Ok(Running(tokio::spawn(async move {
            let exported = export(&exporter, until).await?;
            let ended = Instant::now();
            Ok(ExportRun {
                exported,
                peak_rss_kib: peak.stop().await,
                ended,
            })
        })));
    }
    let args = [
        "export-child".to_owned(),
        "--server-data".to_owned(),
        server_dir.display().to_string(),
        "--out".to_owned(),
        out.display().to_string(),
        "--until".to_owned(),
        until.to_string(),
        "--stop-after-secs".to_owned(),
        env.lifetime.as_secs().to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (child, _ready, mut lines) = ChildProc::spawn_reading(&args).await?;
    let peak = PeakRss::start(child.pid);
    Ok(Running(tokio::spawn(async move {
        let line = lines
            .next_line()
            .await
            .map_err(BenchError::io("reading from the exporting process"))?;
        let ended = Instant::now();
        let peak_rss_kib = peak.stop().await;
        child.stop().await;
        let line = line.ok_or_else(|| {
            BenchError::Failed("the exporting process ended without a report".into())
        })?;
        let exported = serde_json::from_str(&line)
            .map_err(|e| BenchError::Failed(format!("the exporting process said {line:?}: {e}")))?;
        Ok(ExportRun {
            exported,
            peak_rss_kib,
            ended,
        })
    })))
}

/// The child's side of [`start`].
pub async fn export_child(
    server_dir: &Path,
    out: &Path,
    until: i64,
    lifetime: Duration,
) -> Result<(), BenchError> {
    let exporter = exporter(server_dir, out).await?;
    println!("ready");
    let exported = export(&exporter, until).await?;
    let line = serde_json::to_string(&exported).map_err(|e| BenchError::Failed(e.to_string()))?;
    println!("{line}");
    until_parent_gone(lifetime).await;
    Ok(())
}

/// The exporter the server's configuration describes (XML, the default batches), writing
/// into `out` and pruning nothing, on the threads and at the priority the server runs it.
async fn exporter(server_dir: &Path, out: &Path) -> Result<Background, BenchError> {
    let mut config = bench_config(server_dir);
    config.compliance.dir = Some(out.to_path_buf());
    config.compliance.keep_exported_secs = KEEP_EXPORTED.as_secs();
    let (_, key) = installation::open(&config, Access::Existing)
        .await
        .map_err(parlance_server::StartError::from)?;
    Ok(Background::start(&config, &key, Clock::default()).await?)
}

async fn export(background: &Background, until: i64) -> Result<Exported, BenchError> {
    let until = jiff::Timestamp::from_nanosecond(i128::from(until))
        .map_err(|e| BenchError::Failed(format!("export bound: {e}")))?;
    let started = Instant::now();
    let cpu = ProcSample::read(std::process::id());
    let exporter = background.exporter().clone();
    let report = background
        .spawn(async move { exporter.export(Some(until)).await })
        .await
        .map_err(|e| BenchError::Failed(format!("export: {e}")))?
        .map_err(|e| BenchError::Failed(format!("export: {e}")))?;
    let secs = started.elapsed().as_secs_f64();
    Ok(Exported {
        events: report.events,
        bytes: report.bytes,
        secs,
        cpu_secs: ProcSample::read(std::process::id()).cpu_secs - cpu.cpu_secs,
    })
}
