//! The baselines the server is compared with (the relay, the bare HTTPS copy) run like the
//! server: as a process of their own (`parlance bench …-child`), so that the CPU and memory
//! measured are theirs alone, or as a task of this process (`--in-process`). Either way they
//! listen on a loopback port the kernel chooses.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::error::BenchError;
use crate::measure::ProcSample;
use crate::target::{ChildProc, until_parent_gone};

/// A running baseline.
#[derive(Debug)]
pub struct Baseline {
    pub addr: SocketAddr,
    run: Run,
}

#[derive(Debug)]
enum Run {
    Child(Box<ChildProc>),
    Task(JoinHandle<()>),
}

impl Baseline {
    /// Runs `parlance bench SUBCOMMAND --stop-after-secs LIFETIME ARGS…`, whose first line
    /// is `ready <what>=<address>`.
    pub async fn child(
        what: &str,
        subcommand: &str,
        lifetime: Duration,
        args: &[String],
    ) -> Result<Baseline, BenchError> {
        let lifetime = lifetime.as_secs().to_string();
        let mut all = vec![subcommand, "--stop-after-secs", &lifetime];
        all.extend(args.iter().map(String::as_str));
        let (child, line) = ChildProc::spawn(&all).await?;
        let addr = line
            .strip_prefix("ready ")
            .and_then(|rest| rest.strip_prefix(what))
            .and_then(|rest| rest.strip_prefix('='))
            .and_then(|a| a.trim().parse().ok())
            .ok_or_else(|| BenchError::Failed(format!("the {what} said {line:?}")))?;
        Ok(Baseline {
            addr,
            run: Run::Child(Box::new(child)),
        })
    }

    /// Runs `serve` here, on a new loopback listener, for at most `lifetime`.
    pub async fn task<F>(
        what: &str,
        lifetime: Duration,
        serve: impl FnOnce(TcpListener) -> F,
    ) -> Result<Baseline, BenchError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (listener, addr) = listen(what).await?;
        let serving = serve(listener);
        let task = tokio::spawn(async move {
            tokio::select! {
                () = serving => {}
                () = tokio::time::sleep(lifetime) => {}
            }
        });
        Ok(Baseline {
            addr,
            run: Run::Task(task),
        })
    }

    pub fn sample(&self) -> ProcSample {
        ProcSample::read(self.pid())
    }

    /// The process whose CPU and memory are the baseline's.
    pub fn pid(&self) -> u32 {
        match &self.run {
            Run::Child(c) => c.pid,
            Run::Task(_) => std::process::id(),
        }
    }

    pub async fn stop(self) {
        match self.run {
            Run::Child(c) => c.stop().await,
            Run::Task(task) => task.abort(),
        }
    }
}

/// The child's side of [`Baseline::child`]: listens, says where (`ready <what>=<address>`),
/// and serves until the bench process goes away or `lifetime` has passed.
pub async fn child_main<F>(
    what: &str,
    lifetime: Duration,
    serve: impl FnOnce(TcpListener) -> F,
) -> Result<(), BenchError>
where
    F: Future<Output = ()>,
{
    crate::limits::raise_nofile();
    let (listener, addr) = listen(what).await?;
    println!("ready {what}={addr}");
    tokio::select! {
        () = serve(listener) => {}
        () = until_parent_gone(lifetime) => {}
    }
    Ok(())
}

async fn listen(what: &str) -> Result<(TcpListener, SocketAddr), BenchError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(BenchError::io(format!("{what} listen")))?;
    let addr = listener
        .local_addr()
        .map_err(BenchError::io(format!("{what} address")))?;
    Ok((listener, addr))
}
