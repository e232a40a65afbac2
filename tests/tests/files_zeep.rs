//! A SOAP client no one here wrote, Debian's python3-zeep, drives MGCWebService.asmx from
//! its WSDL: an upload, a fault, a download (tests/zeep/mgc_client.py). scripts/test
//! installs python3-zeep; without it this test fails rather than pass unchecked.

use std::path::{Path, PathBuf};
use std::process::Command;

use parlance_tests::files::{FileRoom, content};

/// Debian's interpreter, the one python3-zeep installs for; another `python3` may come
/// first on the PATH.
fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Runs the zeep client; returns what it printed.
async fn zeep(args: Vec<String>) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("zeep/mgc_client.py");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python())
            .arg(script)
            .args(args)
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "zeep failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn zeep_uploads_and_downloads_through_the_wsdl() {
    let installed = Command::new(python())
        .args(["-c", "import zeep"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        installed,
        "python3-zeep is missing: apt-get install python3-zeep (scripts/test does)"
    );
    let mut f = FileRoom::start_with(&["alice", "bob"], |c| c.files.max_chunk_kb = 64).await;
    let port = f.s.https_addr().port();
    let service = format!("https://localhost:{port}{}", mgc::PATH);
    let (cert, channel) = (f.s.cert_path(), f.guid().to_ascii_uppercase());
    let common = |mode: &str, token: &str, arg: &str, path: &Path| -> Vec<String> {
        vec![
            format!("{service}?wsdl"),
            service.clone(),
            cert.display().to_string(),
            mode.to_owned(),
            token.to_owned(),
            // As Lync sends it: the room GUID in capitals.
            channel.clone(),
            arg.to_owned(),
            path.display().to_string(),
        ]
    };
    let data = content(150_000, 11);
    let input = f.s.config.data_dir.join("zeep-in.bin");
    let output = f.s.config.data_dir.join("zeep-out.bin");
    std::fs::write(&input, &data).unwrap();

    let token = f.upload_token(0, "zeep.bin").await;
    let printed = zeep(common("upload", &token, "bin", &input)).await;
    let mut lines = printed.lines();
    let name = lines.next().expect("the repository name").to_owned();
    assert!(name.ends_with(".bin"), "{printed}");
    assert_eq!(lines.next(), Some("fault: token already used"), "{printed}");

    f.post_link(0, "zeep.bin", &name).await;
    let token = f.download_token(1, &name).await;
    zeep(common("download", &token, &name, &output)).await;
    assert!(std::fs::read(&output).unwrap() == data, "byte-exact");
}
