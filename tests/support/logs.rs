//! The server's log lines, captured for the tests that check what an operator sees: one
//! subscriber for the whole test binary, writing plain lines into memory.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::fmt::MakeWriter;

static LINES: OnceLock<Lines> = OnceLock::new();

#[derive(Debug, Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Lines {
    type Writer = Lines;

    fn make_writer(&'a self) -> Lines {
        self.clone()
    }
}

/// Starts capturing (once per test binary): every INFO line and above from then on.
pub fn capture() {
    LINES.get_or_init(|| {
        let lines = Lines::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(lines.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        lines
    });
}

/// The captured lines that contain every one of `needles`.
pub fn lines_with(needles: &[&str]) -> Vec<String> {
    let lines = LINES.get().expect("capture() first");
    let all = lines.0.lock().unwrap();
    String::from_utf8_lossy(&all)
        .lines()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .map(str::to_owned)
        .collect()
}
