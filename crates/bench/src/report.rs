//! The results: one [`Section`] per scenario, printed as a table and written as JSON.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Map, Value};

/// Everything one `parlance bench` invocation measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When the run started (RFC 3339, UTC).
    pub date: String,
    pub machine: Machine,
    /// `TLS` or `TCP`.
    pub transport: String,
    /// `child process` or `in-process`: whose CPU and memory the server columns show.
    pub server: String,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
}

impl Machine {
    pub fn detect() -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpu = read("/proc/cpuinfo")
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")
                    .and_then(|v| v.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_default();
        let mem_kib: f64 = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            memory_gib: (mem_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        }
    }
}

/// One scenario: its settings, its measured rows, and the targets checked.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub scenario: String,
    pub settings: Map<String, Value>,
    pub rows: Vec<Row>,
    pub targets: Vec<TargetCheck>,
}

/// One measured line of a table: a name and its columns.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    pub values: Map<String, Value>,
}

impl Row {
    /// A row from any serialisable value whose fields become the columns.
    pub fn of(name: &str, values: &impl Serialize) -> Row {
        let values = match serde_json::to_value(values) {
            Ok(Value::Object(map)) => flatten(map),
            Ok(other) => Map::from_iter([("value".to_owned(), other)]),
            Err(e) => Map::from_iter([("error".to_owned(), Value::String(e.to_string()))]),
        };
        Row {
            name: name.to_owned(),
            values,
        }
    }
}

/// Nested objects become `outer.inner` columns, so that tables stay flat.
fn flatten(map: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in map {
        match v {
            Value::Object(inner) => {
                for (ik, iv) in flatten(inner) {
                    out.insert(format!("{k}.{ik}"), iv);
                }
            }
            v => {
                out.insert(k, v);
            }
        }
    }
    out
}

/// A target of the issue, reported and never asserted.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    pub target: String,
    pub measured: String,
    pub met: bool,
}

impl TargetCheck {
    pub fn new(target: &str, measured: String, met: bool) -> TargetCheck {
        TargetCheck {
            target: target.to_owned(),
            measured,
            met,
        }
    }
}

pub fn settings(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

impl Report {
    /// The human-readable form: per section its settings, a table of rows, the targets.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "parlance bench — {} — {} ({} cores, {} GiB, Linux {})",
            self.date, m.cpu, m.cores, m.memory_gib, m.kernel
        );
        let _ = writeln!(
            out,
            "transport {}, server as {}",
            self.transport, self.server
        );
        for s in &self.sections {
            let _ = writeln!(out, "\n== {} ==", s.scenario);
            let settings: Vec<String> = s
                .settings
                .iter()
                .map(|(k, v)| format!("{k}={}", cell(v)))
                .collect();
            let _ = writeln!(out, "settings: {}", settings.join(" "));
            out.push_str(&table(&s.rows));
            for t in &s.targets {
                let _ = writeln!(
                    out,
                    "target {}: {} — {}",
                    t.target,
                    t.measured,
                    if t.met { "MET" } else { "MISSED" }
                );
            }
        }
        out
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.2}"),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Rows as aligned columns; the columns are every key, in order of first appearance.
fn table(rows: &[Row]) -> String {
    let mut columns: Vec<&str> = Vec::new();
    for r in rows {
        for k in r.values.keys() {
            if !columns.contains(&k.as_str()) {
                columns.push(k);
            }
        }
    }
    let mut grid: Vec<Vec<String>> = vec![
        std::iter::once("".to_owned())
            .chain(columns.iter().map(|c| (*c).to_owned()))
            .collect(),
    ];
    for r in rows {
        let mut line = vec![r.name.clone()];
        line.extend(
            columns
                .iter()
                .map(|c| r.values.get(*c).map(cell).unwrap_or_default()),
        );
        grid.push(line);
    }
    let widths: Vec<usize> = (0..=columns.len())
        .map(|i| grid.iter().map(|l| l[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for line in grid {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Inner {
        p99_ms: f64,
    }
    #[derive(Serialize)]
    struct Sample {
        deliveries: u64,
        latency: Inner,
    }

    #[test]
    fn rows_flatten_and_tables_align() {
        let row = Row::of(
            "server",
            &Sample {
                deliveries: 10,
                latency: Inner { p99_ms: 1.5 },
            },
        );
        assert_eq!(
            row.values.keys().collect::<Vec<_>>(),
            ["deliveries", "latency.p99_ms"]
        );
        let t = table(&[row]);
        assert!(t.contains("latency.p99_ms") && t.contains("1.50"), "{t}");
    }
}
