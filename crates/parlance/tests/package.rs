//! The Debian package: `cargo deb` builds it from the binary the tests already built, and
//! `dpkg -i` installs it into a throw-away root (never this system: `--root`, with the
//! maintainer scripts run outside a chroot and told the root in `DPKG_ROOT`). Then the
//! files, their modes, the user, the unit (through `systemd-analyze verify`) and the
//! default configuration (through the installed binary's `check-config`) are checked.
//! One test, since building the package is the expensive part.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(command: &mut Command) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e} (scripts/test installs what is missing)"));
    assert!(
        out.status.success(),
        "{command:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn the_package_builds_and_installs_into_a_fresh_root() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let scratch = tempfile::tempdir().unwrap();
    let out_dir = scratch.path().join("out");
    // The debug binary cargo test built: --no-build packs it as it is.
    let built = run(Command::new("cargo")
        .current_dir(&workspace)
        .args(["deb", "-p", "parlance", "--no-build", "--profile", "dev"])
        .args(["--no-strip", "--fast", "--output"])
        .arg(&out_dir));
    let deb = PathBuf::from(String::from_utf8(built.stdout).unwrap().trim());
    assert!(deb.starts_with(&out_dir), "{}", deb.display());

    let info = run(Command::new("dpkg-deb").arg("-I").arg(&deb));
    let info = String::from_utf8(info.stdout).unwrap();
    for expected in [
        "Package: parlance",
        "Depends: ",
        "systemd",
        "postinst",
        "prerm",
    ] {
        assert!(info.contains(expected), "{expected} not in\n{info}");
    }
    let root = scratch.path().join("root");
    let admin = root.join("var/lib/dpkg");
    for dir in ["updates", "info"] {
        std::fs::create_dir_all(admin.join(dir)).unwrap();
    }
    std::fs::write(admin.join("status"), "").unwrap();
    run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args([
            "--force-not-root",
            "--force-script-chrootless",
            "--force-depends",
        ])
        .arg("-i")
        .arg(&deb));

    for (path, expected) in [
        ("usr/bin/parlance", 0o755),
        ("usr/lib/systemd/system/parlance.service", 0o644),
        ("usr/lib/sysusers.d/parlance.conf", 0o644),
        ("etc/parlance/parlance.toml", 0o644),
        ("usr/share/doc/parlance/README.md", 0o644),
        ("usr/share/doc/parlance/grafana/parlance.json", 0o644),
    ] {
        assert_eq!(mode(&root.join(path)), expected, "{path}");
    }
    let status = std::fs::read_to_string(admin.join("status")).unwrap();
    assert!(status.contains("Status: install ok installed"), "{status}");
    assert!(
        status.contains("/etc/parlance/parlance.toml"),
        "the configuration is a conffile: {status}"
    );

    // The user, in the root installed into and nowhere else.
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    let user = passwd
        .lines()
        .find(|l| l.starts_with("parlance:"))
        .unwrap_or_else(|| panic!("no parlance user in\n{passwd}"));
    assert!(user.contains(":/var/lib/parlance:"), "{user}");
    assert!(user.ends_with("nologin"), "{user}");

    // Installed, not enabled, not started.
    assert!(
        !root
            .join("etc/systemd/system/multi-user.target.wants")
            .exists()
    );

    let unit =
        std::fs::read_to_string(root.join("usr/lib/systemd/system/parlance.service")).unwrap();
    for line in [
        "Type=notify",
        "User=parlance",
        "StateDirectory=parlance",
        "ExecStart=/usr/bin/parlance serve",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Environment=PARLANCE_CONFIG=/etc/parlance/parlance.toml",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} not in\n{unit}");
    }
    // systemd checks the unit as it would load it, with the installed binary in place of
    // /usr/bin/parlance (which is not on this system).
    let units = scratch.path().join("units");
    std::fs::create_dir(&units).unwrap();
    let installed_bin = root.join("usr/bin/parlance");
    let checked = units.join("parlance.service");
    std::fs::write(
        &checked,
        unit.replace("/usr/bin/parlance", installed_bin.to_str().unwrap()),
    )
    .unwrap();
    run(Command::new("systemd-analyze")
        .env("SYSTEMD_UNIT_PATH", format!("{}:", units.display()))
        .arg("verify")
        .arg(&checked));

    // The default configuration is one the installed binary accepts.
    let checked = run(Command::new(&installed_bin)
        .arg("check-config")
        .arg(root.join("etc/parlance/parlance.toml")));
    assert!(String::from_utf8_lossy(&checked.stdout).contains("is valid"));
}
