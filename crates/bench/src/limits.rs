//! Thousands of connections need thousands of file descriptors.

/// What the harness asks for: both ends of the pool design load at factor 1.0 (80,000
/// clients in the bench process, as many connections in the server) with room to spare.
const WANTED: u64 = 200_000;

/// Raises the hard RLIMIT_NOFILE to [`WANTED`] where the process may (that takes
/// CAP_SYS_RESOURCE, which root has), then the soft limit to the hard one. Returns the soft
/// limit now in force; child processes inherit it.
pub fn raise_nofile() -> u64 {
    let hard = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(0, |(_, hard)| hard);
    if hard < WANTED && rlimit::setrlimit(rlimit::Resource::NOFILE, WANTED, WANTED).is_err() {
        tracing::info!(
            hard,
            "the hard open-file limit stays (no privilege to raise it)"
        );
    }
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(0, |(soft, _)| soft)
        }
    }
}
