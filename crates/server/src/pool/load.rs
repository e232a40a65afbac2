//! What a node reports of its load, and how the lookup compares loads.

use parlance_store::nodes::Load;

/// What the lookup compares, least first: joined endpoints, then connections, then CPU.
/// Joined endpoints come first because each one receives every message of its room: they
/// are what a node's work grows with. Connections count the signed-in clients not in rooms
/// yet (a client that just asked for a channel is one); CPU breaks ties between equally
/// busy nodes.
pub(crate) fn load_key(load: &Load) -> (u64, u64, u64) {
    (load.joined, load.connections, load.cpu_permille)
}

/// The process's CPU time, read from `/proc/self/stat` between heartbeats.
#[derive(Debug)]
pub(crate) struct CpuMeter {
    last: Option<(std::time::Instant, u64)>,
}

/// `/proc` counts CPU time in ticks of this many per second (USER_HZ, 100 on Linux
/// whatever the kernel's own tick rate).
const TICKS_PER_SEC: u64 = 100;

impl CpuMeter {
    pub(crate) fn new() -> CpuMeter {
        CpuMeter {
            last: cpu_ticks().map(|t| (std::time::Instant::now(), t)),
        }
    }

    /// The CPU the process used since the last call, in thousandths of one core; 0 when
    /// `/proc` cannot be read or no time has passed.
    pub(crate) fn permille(&mut self) -> u64 {
        let Some(ticks) = cpu_ticks() else { return 0 };
        let now = std::time::Instant::now();
        let used = match self.last {
            Some((then, before)) => {
                let wall_ms = now.duration_since(then).as_millis() as u64;
                let cpu_ms = ticks.saturating_sub(before) * 1000 / TICKS_PER_SEC;
                (cpu_ms * 1000).checked_div(wall_ms).unwrap_or(0)
            }
            None => 0,
        };
        self.last = Some((now, ticks));
        used
    }
}

/// User plus system time of this process, in ticks.
fn cpu_ticks() -> Option<u64> {
    parse_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// utime + stime from a `/proc/<pid>/stat` line: fields 14 and 15, counted after the
/// command name, which is in parentheses and may itself hold spaces and parentheses.
fn parse_stat(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        let stat = "4242 (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 9 0";
        assert_eq!(parse_stat(stat), Some(280));
        assert_eq!(parse_stat("garbage"), None);
        assert!(cpu_ticks().is_some(), "this process's own stat reads");
    }
}
