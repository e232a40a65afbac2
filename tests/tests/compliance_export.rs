//! A day of chat through a real server — joins, posts, a history read, a file up and down
//! over SOAP, departures — archived by the server's own compliance export at shutdown:
//! XSD-valid XML with every event type, and the posted file decrypted byte for byte.

use std::path::Path;
use std::process::Command;

use parlance_tests::files::{FileRoom, content};

/// Checks `file` against the exporter's XSD; fails (never skips) without xmllint.
fn assert_valid(file: &Path) {
    let schema =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/compliance/schema/conversations.xsd");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("xmllint cannot run ({e}): install libxml2-utils"));
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_of_chat_comes_out_of_the_servers_export_at_shutdown() {
    let mut f = FileRoom::start_with(&["alice", "bob"], |c| {
        c.compliance.enabled = true;
        c.compliance.interval_secs = 3600;
    })
    .await;
    let room = f.room.clone();
    assert_eq!(
        f.members[0].post(&room, "good <morning> & welcome").await,
        200
    );
    f.members[1].history(&room, "<last cnt=\"10\"/>").await;
    let data = content(200_000, 3);
    let chunk = f.max_chunk();
    let mut soap = f.soap().await;
    let name = f.upload(&mut soap, 0, "plan.bin", &data, chunk).await;
    f.post_link(0, "plan.bin", &name).await;
    assert!(f.download(&mut soap, 1, &name, chunk).await == data);
    f.s.shutdown().await;

    let out = f.s.config.data_dir.join("compliance");
    let mut xml = String::new();
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("xml") => {
                assert_valid(&path);
                xml.push_str(&std::fs::read_to_string(&path).unwrap());
            }
            Some("ATTACH") => assert_valid(&path),
            _ => {}
        }
    }
    for kind in [
        "JOIN",
        "CHAT",
        "BACKCHAT",
        "FILEUPLOAD",
        "FILEDOWNLOAD",
        "PART",
    ] {
        assert!(
            xml.contains(&format!("<Message type=\"{kind}\"")),
            "no {kind} in {xml}"
        );
    }
    assert!(xml.contains("content=\"good &lt;morning&gt; &amp; welcome\""));
    // Both members parted when the server stopped: two joins, two parts.
    assert_eq!(xml.matches("<Message type=\"PART\"").count(), 2);
    let copies: Vec<_> = std::fs::read_dir(out.join("Attachment"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert!(copies[0].to_string_lossy().ends_with(&name));
    assert!(
        std::fs::read(&copies[0]).unwrap() == data,
        "the copy differs"
    );
}
