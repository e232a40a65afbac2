//! Files on their way: where a download is saved, and progress reports thinned out (the
//! client library calls back for every chunk; a screen or a terminal line only needs to
//! change when the share done does).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parlance_client::PostedFile;

/// The name a download is saved under unless told otherwise: the name it was posted with,
/// which comes from whoever posted it and so is made safe first, else its repository name.
pub fn default_name(file: &PostedFile) -> String {
    parlance_client::safe_file_name(&file.original_name).unwrap_or_else(|| file.link.name.clone())
}

/// Where a download goes: `path`, or `name` inside it when it is a directory, or `name` in
/// the current directory.
pub fn destination(name: &str, path: Option<&Path>) -> PathBuf {
    match path {
        Some(dir) if dir.is_dir() => dir.join(name),
        Some(path) => path.to_owned(),
        None => PathBuf::from(name),
    }
}

/// Steps of a transfer worth showing.
const STEPS: u64 = 1000;

/// Remembers the last step shown. Atomic, so that a transfer running in a task of its own
/// can share it with the callback it is given.
#[derive(Debug)]
pub struct Steps {
    last: AtomicU64,
}

impl Default for Steps {
    fn default() -> Self {
        Steps {
            last: AtomicU64::new(u64::MAX),
        }
    }
}

impl Steps {
    /// Whether `done` of `total` is a step past the last one shown (the first report always is).
    pub fn moved(&self, done: u64, total: u64) -> bool {
        let step = if total == 0 {
            STEPS
        } else {
            // u128: done × STEPS overflows u64 past 18 PB.
            (u128::from(done.min(total)) * u128::from(STEPS) / u128::from(total)) as u64
        };
        self.last.swap(step, Ordering::Relaxed) != step
    }
}

/// The share done, 0.0 to 1.0 (an empty file is done at once).
pub fn ratio(done: u64, total: u64) -> f64 {
    if total == 0 {
        1.0
    } else {
        (done.min(total) as f64) / (total as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_steps_are_reported() {
        let steps = Steps::default();
        let total = 10_000;
        let shown: Vec<u64> = (0..=total)
            .step_by(3)
            .chain([total])
            .filter(|done| steps.moved(*done, total))
            .collect();
        assert_eq!(shown.len(), 1001, "the start and each thousandth");
        assert_eq!(shown[..3], [0, 12, 21]);
        assert_eq!(shown.last(), Some(&total));
        assert!(!steps.moved(total, total), "the end once");
        let empty = Steps::default();
        assert!(empty.moved(0, 0) && !empty.moved(0, 0));
    }

    #[test]
    fn downloads_go_where_they_are_told_or_here() {
        let tmp = std::env::temp_dir();
        assert_eq!(destination("a.txt", None), PathBuf::from("a.txt"));
        assert_eq!(destination("a.txt", Some(&tmp)), tmp.join("a.txt"));
        let file = tmp.join("parlance-no-such-dir").join("b.txt");
        assert_eq!(destination("a.txt", Some(&file)), file);
    }

    #[test]
    fn ratios() {
        assert_eq!(ratio(5, 10), 0.5);
        assert_eq!(ratio(0, 0), 1.0);
        assert_eq!(ratio(20, 10), 1.0);
    }
}
