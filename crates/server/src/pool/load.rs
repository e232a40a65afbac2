//! What a node reports of its load, and how the lookup compares loads.

use std::cmp::Ordering;

use parlance_store::nodes::Node;

/// The node `cmd:requri` should hand out among `live`: the one with the fewest joined
/// endpoints, then the fewest connections, then the least CPU. Joined endpoints come first
/// because each one receives every message of its room: they are what a node's work grows
/// with. Connections count the signed-in clients not in rooms yet (a client that just
/// asked for a channel is one); CPU breaks ties between equally busy nodes. The node id
/// makes the choice the same on every node.
pub fn least_loaded<'a>(live: impl IntoIterator<Item = &'a Node>) -> Option<&'a Node> {
    live.into_iter().min_by(|a, b| compare(a, b))
}

fn compare(a: &Node, b: &Node) -> Ordering {
    let key = |n: &Node| (n.load.joined, n.load.connections, n.load.cpu_permille);
    key(a).cmp(&key(b)).then_with(|| a.id.cmp(&b.id))
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
    use parlance_store::nodes::Load;

    use super::*;

    fn node(id: &str, joined: u64, connections: u64, cpu_permille: u64) -> Node {
        Node {
            id: id.into(),
            channel_uri: format!("sip:{id}@example.com"),
            sip_address: String::new(),
            https_address: String::new(),
            started_at: 0,
            heartbeat_at: 0,
            load: Load {
                connections,
                joined,
                cpu_permille,
                queued_bytes: 0,
            },
        }
    }

    #[test]
    fn joined_endpoints_then_connections_then_cpu_choose() {
        let pick = |nodes: &[Node]| least_loaded(nodes).map(|n| n.id.clone());
        assert_eq!(pick(&[]), None);
        let fewer_joined = [node("a", 10, 5, 100), node("b", 9, 50, 900)];
        assert_eq!(pick(&fewer_joined).as_deref(), Some("b"));
        let fewer_connections = [node("a", 10, 5, 900), node("b", 10, 6, 100)];
        assert_eq!(pick(&fewer_connections).as_deref(), Some("a"));
        let less_cpu = [node("a", 10, 5, 300), node("b", 10, 5, 200)];
        assert_eq!(pick(&less_cpu).as_deref(), Some("b"));
        let equal = [node("b", 1, 1, 1), node("a", 1, 1, 1)];
        assert_eq!(pick(&equal).as_deref(), Some("a"), "the same on every node");
    }

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        let stat = "4242 (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 9 0";
        assert_eq!(parse_stat(stat), Some(280));
        assert_eq!(parse_stat("garbage"), None);
        assert!(cpu_ticks().is_some(), "this process's own stat reads");
    }
}
