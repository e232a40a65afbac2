//! The harness measures what it claims: a tiny fan-out through the real server and through
//! the relay, in-process, delivers every message and reports every field.

use parlance_bench::report::Section;
use parlance_bench::{
    BenchOptions, ComplianceArgs, Deployment, EngineArgs, Env, FanoutArgs, FilesArgs, IdleArgs,
    JoinStormArgs, Load, Members, PoolArgs, PoolCompareArgs, Scenario, SmokeArgs, run_scenarios,
};

fn env() -> Env {
    env_with(Members::Lean)
}

fn env_with(members: Members) -> Env {
    Env::new(&BenchOptions {
        tcp: false,
        json: None,
        in_process: true,
        sources: 4,
        work_dir: None,
        lifetime_secs: 120,
        member_mode: members,
    })
}

fn row<'a>(section: &'a Section, name: &str) -> &'a serde_json::Map<String, serde_json::Value> {
    &section
        .rows
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("row {name} in {section:?}"))
        .values
}

fn number(values: &serde_json::Map<String, serde_json::Value>, key: &str) -> f64 {
    values
        .get(key)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or_else(|| panic!("{key} in {values:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_fan_out_of_lean_members_delivers_everything_through_server_and_relay() {
    small_fan_out(Members::Lean).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_fan_out_of_full_clients_delivers_everything_through_server_and_relay() {
    small_fan_out(Members::Full).await;
}

async fn small_fan_out(members: Members) {
    let args = FanoutArgs {
        members: 6,
        rate: 20.0,
        duration: 1,
        posters: 2,
        size: 80,
        no_baseline: false,
    };
    let report = run_scenarios(&env_with(members), &Scenario::Fanout(args))
        .await
        .expect("the scenario runs");
    let section = &report.sections[0];
    assert_eq!(
        section.settings["members_driven"],
        members.describe(),
        "the report says how members were driven"
    );
    // 20 posts/s for 1 s.
    every_phase_delivered(section, 6.0, 20.0);
    assert!(number(row(section, "server / relay"), "deliveries_per_s_ratio") > 0.0);
    assert_eq!(section.targets.len(), 3);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["sections"][0]["scenario"], "fan-out");
    assert!(report.table().contains("server saturated"));
}

/// Every phase of server and relay: each post (`paced` of them in the paced phase) reached
/// each of `members`, once, with one latency sample each, and the CPU columns are numbers.
fn every_phase_delivered(section: &Section, members: f64, paced: f64) {
    for name in [
        "server paced",
        "server saturated",
        "relay paced",
        "relay saturated",
    ] {
        let values = row(section, name);
        let posts = number(values, "posts");
        if name.ends_with("paced") {
            // A post that failed would not be counted.
            assert_eq!(posts, paced, "{name}: every post went through: {values:?}");
        } else {
            // Each poster counts a post when its own message came back.
            assert!(posts >= 2.0, "{name}: each poster posted: {values:?}");
        }
        assert_eq!(number(values, "deliveries"), posts * members, "{name}");
        assert_eq!(number(values, "delivered_pct"), 100.0, "{name}: {values:?}");
        assert_eq!(
            number(values, "latency.count"),
            posts * members,
            "{name}: one latency per delivery"
        );
        assert!(
            number(values, "deliveries_per_s") > 0.0,
            "{name}: {values:?}"
        );
        let [p50, p90, p99, max] =
            ["p50", "p90", "p99", "max"].map(|p| number(values, &format!("latency.{p}_ms")));
        assert!(
            0.0 < p50 && p50 <= p90 && p90 <= p99 && p99 <= max,
            "{name}: a delivery takes time, and percentiles are ordered: {values:?}"
        );
        // Present, and numbers (NaN would be written as null). CPU time is counted in
        // ticks, so a short phase may well show 0.
        for cpu in [
            "server_cpu_pct",
            "bench_cpu_pct",
            "deliveries_per_server_cpu_s",
            "server_us_per_delivery",
            "bench_us_per_delivery",
        ] {
            number(values, cpu);
        }
    }
    let versus = row(section, "server / relay");
    assert_eq!(versus["phase"], "saturated", "{versus:?}");
    for ratio in [
        "server_us_per_delivery",
        "relay_us_per_delivery",
        "server_deliveries_per_cpu_s",
        "relay_deliveries_per_cpu_s",
        "per_cpu_s_ratio",
    ] {
        number(versus, ratio);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_smoke_run_delivers_everything_and_reports_the_cost_per_delivery() {
    let args = SmokeArgs {
        members: 12,
        duration: 1,
        rate: 10.0,
        posters: 2,
    };
    let report = run_scenarios(&env(), &Scenario::Smoke(args))
        .await
        .expect("the scenario runs");
    let section = &report.sections[0];
    assert_eq!(section.scenario, "smoke");
    every_phase_delivered(section, 12.0, 10.0);
    assert!(section.targets.is_empty(), "a report, never a check");
    let table = report.table();
    for column in ["server_us_per_delivery", "per_cpu_s_ratio"] {
        assert!(table.contains(column), "{column} in {table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lean_members_all_join_every_room_with_history_in_a_storm() {
    // A bjoin refused in part, or a history page refused, fails the scenario.
    let args = JoinStormArgs {
        users: 8,
        rooms: 3,
        history: 5,
    };
    let report = run_scenarios(&env(), &Scenario::JoinStorm(args))
        .await
        .expect("the scenario runs");
    let section = &report.sections[0];
    assert_eq!(section.settings["members_driven"], Members::Lean.describe());
    assert_eq!(number(row(section, "sign-in"), "users"), 8.0);
    let storm = row(section, "join storm");
    assert_eq!(number(storm, "per_user.count"), 8.0, "{storm:?}");
    assert!(number(storm, "room_joins_per_s") > 0.0, "{storm:?}");
    number(storm, "bench_cpu_pct");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_register_and_are_measured() {
    let report = run_scenarios(&env(), &Scenario::Idle(IdleArgs { connections: 20 }))
        .await
        .expect("the scenario runs");
    let values = row(&report.sections[0], "server");
    assert_eq!(
        number(values, "registered"),
        20.0,
        "every connection registers, the 8 warm-up ones too"
    );
    assert_eq!(
        number(values, "measured_connections"),
        12.0,
        "8 warm-up connections are not in the memory figure"
    );
    assert!(number(values, "rss_after_mib") > 0.0);
    number(values, "server_cpu_s");
    number(values, "bench_cpu_s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_design_load_at_a_tiny_factor_delivers_every_post_to_every_member() {
    // Factor 0.005: 400 users in 160 rooms of 30, 5 of 150 and one of all 400; 0.12 posts/s.
    let args = PoolArgs {
        factor: Some(0.005),
        start: 0.005,
        steps: 1,
        duration: 10,
    };
    let report = run_scenarios(&env(), &Scenario::Pool(args))
        .await
        .expect("the scenario runs");
    let section = &report.sections[0];
    let values = row(section, "factor 0.005");
    assert_eq!(number(values, "users"), 400.0);
    assert_eq!(values["rooms"], "160 / 5 / 1");
    assert_eq!(
        number(values, "memberships"),
        160.0 * 30.0 + 5.0 * 150.0 + 400.0
    );
    assert!(number(values, "posts") >= 1.0);
    assert_eq!(number(values, "failed_posts"), 0.0);
    // 0.05 joins/s for 10 s: one member leaves a room and joins it again, history included.
    assert_eq!(
        (number(values, "joins"), number(values, "failed_joins")),
        (1.0, 0.0),
        "{values:?}"
    );
    assert_eq!(section.settings["members_driven"], Members::Lean.describe());
    assert_eq!(number(values, "delivered_pct"), 100.0, "{values:?}");
    assert!(number(values, "delivery.p99_ms") > 0.0);
    assert_eq!(section.targets.len(), 1);
    assert!(!section.targets[0].met, "factor 1.0 was not tried");
}

/// Needs PostgreSQL and nats-server (the Debian packages scripts/test installs): private
/// ones are started, and the test fails when they are missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_three_deployments_side_by_side_deliver_everything_and_the_relay_is_measured_apart() {
    let args = PoolCompareArgs {
        deployments: vec![
            Deployment::Sqlite,
            Deployment::PostgresNats,
            Deployment::ThreeNodes,
        ],
        loads: vec![Load::Fanout, Load::DesignLoad],
        members: 6,
        rates: vec![10.0],
        duration: 1,
        posters: 2,
        // 400 users; 0.12 posts/s for 5 s: one post.
        factor: 0.005,
        design_duration: 5,
        engines: EngineArgs::default(),
    };
    let report = run_scenarios(&env(), &Scenario::PoolCompare(args))
        .await
        .expect("the scenario runs");
    let names: Vec<&str> = report
        .sections
        .iter()
        .map(|s| s.scenario.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "pool deployments: fan-out",
            "pool deployments: design load",
            "pool deployments side by side"
        ]
    );
    let (fan, design, side) = (
        &report.sections[0],
        &report.sections[1],
        &report.sections[2],
    );
    for deployment in [
        "one node, SQLite",
        "one node, PostgreSQL + NATS",
        "three nodes, PostgreSQL + NATS",
    ] {
        // 10 posts/s for 1 s to 6 members, every one delivered once.
        let paced = row(fan, &format!("{deployment}, paced 10 msg/s"));
        assert_eq!(number(paced, "posts"), 10.0, "{deployment}: {paced:?}");
        assert_eq!(number(paced, "deliveries"), 60.0, "{deployment}: {paced:?}");
        assert_eq!(number(paced, "latency.count"), 60.0, "{deployment}");
        let closed = row(fan, &format!("{deployment}, closed loop"));
        assert_eq!(
            number(closed, "delivered_pct"),
            100.0,
            "{deployment}: {closed:?}"
        );
        let step = row(design, deployment);
        assert_eq!(number(step, "users"), 400.0, "{deployment}");
        assert_eq!(number(step, "failed_posts"), 0.0, "{deployment}");
        assert_eq!(number(step, "failed_joins"), 0.0, "{deployment}");
        assert_eq!(
            number(step, "delivered_pct"),
            100.0,
            "{deployment}: {step:?}"
        );
        let pooled = deployment != "one node, SQLite";
        for values in [paced, closed, step] {
            // PostgreSQL's and NATS's processes were found and sampled beside the nodes.
            assert_eq!(
                values
                    .get("engines.postgres_cpu_pct")
                    .is_some_and(|v| v.is_f64()),
                pooled,
                "{deployment}: {values:?}"
            );
            assert_eq!(
                values
                    .get("engines.nats_cpu_pct")
                    .is_some_and(|v| v.is_f64()),
                pooled,
                "{deployment}: {values:?}"
            );
        }
        let summary = row(side, &format!("{deployment}: fan-out closed loop"));
        assert!(number(summary, "deliveries") > 0.0, "{summary:?}");
    }
    // Three nodes: members 0..6 on nodes 0, 1, 2, 0, 1, 2 and posters 0 and 1, so each
    // post reaches two members on its poster's node and four through the relay.
    let three = row(fan, "three nodes, PostgreSQL + NATS, paced 10 msg/s");
    assert_eq!(
        (
            number(three, "relay.local.count"),
            number(three, "relay.crossed.count")
        ),
        (20.0, 40.0),
        "{three:?}"
    );
    assert!(
        row(fan, "one node, PostgreSQL + NATS, paced 10 msg/s")
            .get("relay.crossed.count")
            .is_none(),
        "one node: nothing crosses"
    );
    let targets: Vec<&str> = side.targets.iter().map(|t| t.target.as_str()).collect();
    assert_eq!(targets.len(), 2, "{targets:?}");
    assert!(
        targets[0].contains("PostgreSQL + NATS >= 0.7"),
        "{targets:?}"
    );
    assert!(targets[1].contains("relay's extra latency"), "{targets:?}");
    assert!(report.table().contains("pool deployments side by side"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_travels_byte_exact_every_way_and_uploads_run_while_a_room_chats() {
    // 3 MB: three SOAP chunks of the default 1 MiB, the last one short.
    let args = FilesArgs {
        size_mb: 3,
        rounds: 1,
        members: 6,
        rate: 10.0,
        duration: 1,
        uploads: 3,
        upload_mb: 1,
        chunk_kb: None,
        upload_mb_per_s: None,
        yield_to_chat_ms: None,
    };
    let report = run_scenarios(&env(), &Scenario::Files(args))
        .await
        .expect("the scenario runs (a download that differs from the upload fails it)");
    let section = &report.sections[0];
    for way in ["bare copy", "plain API", "SOAP"] {
        for direction in ["upload", "download"] {
            let name = format!("{way} {direction}");
            let values = row(section, &name);
            assert_eq!(number(values, "bytes"), 3e6, "{name}");
            assert_eq!(number(values, "rounds"), 1.0, "{name}");
            assert!(number(values, "mb_per_s") > 0.0, "{name}: {values:?}");
            assert!(number(values, "vs_bare") > 0.0, "{name}: {values:?}");
        }
        assert_eq!(
            number(row(section, &format!("{way} download")), "verified"),
            1.0,
            "{way}: the download was checked against what was sent"
        );
    }
    assert_eq!(number(row(section, "bare copy upload"), "vs_bare"), 1.0);
    for name in ["chat, no uploads", "chat, 3 uploads"] {
        let values = row(section, name);
        assert_eq!(number(values, "posts"), 10.0, "{name}: {values:?}");
        assert_eq!(number(values, "delivered_pct"), 100.0, "{name}: {values:?}");
    }
    let load = row(section, "uploads during chat");
    assert!(number(load, "uploads") >= 1.0, "{load:?}");
    assert_eq!(number(load, "failed"), 0.0, "{load:?}");
    assert_eq!(section.targets.len(), 4, "{:?}", section.targets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_is_exported_whole_twice_and_a_room_chats_meanwhile() {
    let args = ComplianceArgs {
        events: 2_500,
        content_bytes: 100,
        members: 6,
        rate: 10.0,
        duration: 1,
    };
    let report = run_scenarios(&env(), &Scenario::Compliance(args))
        .await
        .expect("the scenario runs");
    let section = &report.sections[0];
    let export = row(section, "export");
    assert_eq!(
        number(export, "events"),
        2_500.0,
        "every filled event: {export:?}"
    );
    // Each event's XML holds at least its text.
    assert!(number(export, "mb") > 2_500.0 * 100.0 / 1e6, "{export:?}");
    assert!(number(export, "peak_rss_mib") > 0.0, "{export:?}");
    let disk = row(section, "sequential write");
    assert_eq!(number(disk, "mb"), number(export, "mb"), "the same bytes");
    assert!(number(disk, "mb_per_s") > 0.0, "{disk:?}");
    let again = row(section, "exports during chat");
    assert!(number(again, "exports") >= 1.0, "{again:?}");
    for bound in ["events_min", "events_max"] {
        assert_eq!(
            number(again, bound),
            2_500.0,
            "each export the same events again, none the server added: {again:?}"
        );
    }
    for name in ["chat, no export", "chat, export running"] {
        let values = row(section, name);
        assert_eq!(number(values, "posts"), 10.0, "{name}: {values:?}");
        assert_eq!(number(values, "delivered_pct"), 100.0, "{name}: {values:?}");
    }
    let tenth = row(section, "export, a tenth of the events");
    assert_eq!(number(tenth, "events"), 250.0, "{tenth:?}");
    assert_eq!(section.targets.len(), 3, "{:?}", section.targets);
}
