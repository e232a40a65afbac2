//! The room administration commands, run beside a serving server: what they change is what
//! clients see at once.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_parlance");

fn run(data: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(["--domain", "example.test"])
        .args(args)
        .env("PARLANCE_PASSWORD", "pw")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn ok(data: &Path, args: &[&str]) -> String {
    let (success, text) = run(data, args);
    assert!(success, "parlance {args:?}: {text}");
    text
}

#[test]
fn categories_rooms_and_roles() {
    let data = std::env::temp_dir().join(format!("parlance-admin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    ok(&data, &["user", "add", "alice@example.test"]);
    ok(
        &data,
        &["user", "add", "bob@example.test", "--mechanisms", "digest"],
    );
    assert!(ok(&data, &["user", "list"]).contains("sip:bob@example.test\tdigest"));

    let created = ok(
        &data,
        &["category", "add", "Engineering", "--description", "Build"],
    );
    assert!(
        created.starts_with("created category Engineering ma-cat://example.test/"),
        "{created}"
    );
    let list = ok(&data, &["category", "list"]);
    assert!(
        list.contains("(root)") && list.contains("Engineering"),
        "{list}"
    );
    ok(
        &data,
        &[
            "category",
            "creator",
            "add",
            "Engineering",
            "alice@example.test",
        ],
    );

    ok(
        &data,
        &[
            "room",
            "add",
            "Lobby",
            "--category",
            "Engineering",
            "--topic",
            "Welcome",
        ],
    );
    ok(
        &data,
        &[
            "room",
            "add",
            "Stage",
            "--category",
            "engineering",
            "--auditorium",
            "--privacy",
            "closed",
        ],
    );
    let (success, text) = run(
        &data,
        &["room", "add", "lobby", "--category", "Engineering"],
    );
    assert!(
        !success && text.contains("already exists"),
        "room names are unique: {text}"
    );
    let (success, text) = run(&data, &["room", "add", "X", "--category", "Nowhere"]);
    assert!(!success && text.contains("no category"), "{text}");
    let (success, text) = run(
        &data,
        &[
            "room",
            "add",
            "X",
            "--category",
            "Engineering",
            "--privacy",
            "hidden",
        ],
    );
    assert!(!success && text.contains("hidden"), "{text}");

    ok(
        &data,
        &[
            "room",
            "member",
            "add",
            "Stage",
            "alice@example.test",
            "--role",
            "presenter",
        ],
    );
    ok(
        &data,
        &[
            "room",
            "member",
            "add",
            "Stage",
            "bob@example.test",
            "--role",
            "manager",
        ],
    );
    ok(
        &data,
        &[
            "room",
            "edit",
            "Lobby",
            "--topic",
            "Hello",
            "--privacy",
            "secret",
            "--invitations",
            "off",
        ],
    );
    let show = ok(&data, &["room", "show", "Stage"]);
    assert!(
        show.contains("presenter    sip:alice@example.test")
            && show.contains("manager      sip:bob@example.test"),
        "{show}"
    );
    assert!(
        show.contains("behavior     auditorium") && show.contains("privacy      closed"),
        "{show}"
    );
    let show = ok(&data, &["room", "show", "Lobby"]);
    assert!(
        show.contains("topic        Hello")
            && show.contains("privacy      secret")
            && show.contains("invitations  false"),
        "{show}"
    );

    ok(
        &data,
        &[
            "room",
            "member",
            "remove",
            "Stage",
            "bob@example.test",
            "--role",
            "manager",
        ],
    );
    assert!(!ok(&data, &["room", "show", "Stage"]).contains("bob"));
    ok(&data, &["room", "disable", "Lobby"]);
    assert!(
        ok(&data, &["room", "list"])
            .lines()
            .any(|l| l.starts_with("Lobby") && l.ends_with("disabled"))
    );
    ok(&data, &["room", "enable", "Lobby"]);
    assert!(!ok(&data, &["room", "list"]).contains("disabled"));
    let (success, text) = run(
        &data,
        &["room", "member", "add", "Stage", "nobody@example.test"],
    );
    assert!(!success && text.contains("no user"), "{text}");
    std::fs::remove_dir_all(&data).unwrap();
}
