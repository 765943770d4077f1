//! The Debian package: its staged contents (man pages and completions
//! generated from the command line, the systemd unit, the config file,
//! the radio profiles), the unit checked by `systemd-analyze verify`
//! where systemd is installed, and — when cargo-deb is installed, as
//! `./run test` makes sure — the .deb itself built and taken apart.

// A test driver: real processes and files are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod daemon_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use daemon_common::bin;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("callsign-pkg-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

fn ok(c: &mut Command) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `Key=Value` lines of a unit file (last one wins, as systemd reads them).
fn unit_keys(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn man_pages_and_completions_come_from_the_command_line() {
    let d = tmp("gen");
    ok(Command::new(bin()).arg("gen-man").arg(d.join("man1")));
    ok(Command::new(bin())
        .arg("gen-completions")
        .arg(d.join("comp")));
    let pages: Vec<String> = std::fs::read_dir(d.join("man1"))
        .expect("man1")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    for want in [
        "callsign.1",
        "callsign-up.1",
        "callsign-radio-plan.1",
        "callsign-events.1",
        "callsign-enrol-request.1",
        "callsign-ca-issue-batch.1",
        "callsign-id.1",
    ] {
        assert!(pages.iter().any(|p| p == want), "{want} missing: {pages:?}");
    }
    assert!(
        !pages.iter().any(|p| p.contains("-help")),
        "clap's help pages: {pages:?}"
    );
    assert!(
        !pages.iter().any(|p| p.contains("gen-man")),
        "hidden commands documented"
    );
    let up = std::fs::read_to_string(d.join("man1/callsign-up.1")).expect("page");
    assert!(
        up.contains("exclude\\-iface") && up.contains("IF[=PROFILE]"),
        "{up}"
    );
    let bash = std::fs::read_to_string(d.join("comp/callsign.bash")).expect("bash");
    assert!(bash.contains("radio") && bash.contains("enrol") && bash.contains("--exclude-iface"));
    assert!(d.join("comp/_callsign").is_file() && d.join("comp/callsign.fish").is_file());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_unit_is_hardened_and_verifies() {
    let unit =
        std::fs::read_to_string(root().join("packaging/systemd/callsign.service")).expect("unit");
    let k = unit_keys(&unit);
    let get = |key: &str| k.get(key).map(String::as_str).unwrap_or("");
    assert_eq!(get("Type"), "notify");
    assert_eq!(get("Restart"), "on-failure");
    assert_eq!(get("User"), "callsign");
    assert_eq!(get("ProtectSystem"), "strict");
    assert_eq!(get("StateDirectory"), "callsign");
    assert_eq!(get("NoNewPrivileges"), "yes");
    assert_eq!(
        get("ExecStart"),
        "/usr/bin/callsign up --data-dir /var/lib/callsign"
    );
    assert_eq!(get("ExecReload"), "/bin/kill -HUP $MAINPID");
    let caps = |key: &str| {
        let mut v: Vec<&str> = get(key).split_whitespace().collect();
        v.sort_unstable();
        v
    };
    assert_eq!(
        caps("AmbientCapabilities"),
        ["CAP_NET_ADMIN", "CAP_NET_RAW"]
    );
    assert_eq!(
        caps("CapabilityBoundingSet"),
        ["CAP_NET_ADMIN", "CAP_NET_RAW"]
    );

    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("systemd-analyze verify skipped: systemd-analyze is not installed here");
        return;
    }
    // The unit as installed, but starting this build's binary, and its
    // Documentation= man page found among the generated ones.
    let d = tmp("unit");
    ok(Command::new(bin()).arg("gen-man").arg(d.join("man/man1")));
    let path = d.join("callsign.service");
    std::fs::write(&path, unit.replace("/usr/bin/callsign", bin())).expect("unit copy");
    let out = Command::new("systemd-analyze")
        .args(["verify"])
        .arg(&path)
        .env("MANPATH", d.join("man"))
        .output()
        .expect("systemd-analyze");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && !text.contains("callsign.service:"),
        "systemd-analyze verify: {text}"
    );
    println!("systemd-analyze verify: clean");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn package_metadata_names_files_that_exist() {
    let cargo: toml::Table =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml"))
            .expect("toml");
    let deb = cargo["package"]["metadata"]["deb"]
        .as_table()
        .expect("[package.metadata.deb]");
    for a in deb["assets"].as_array().expect("assets") {
        let src = a[0].as_str().expect("source");
        if src.starts_with("target/") {
            continue; // built or generated by scripts/package.sh
        }
        let dir = root().join(Path::new(src).parent().expect("parent"));
        let name = Path::new(src)
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let found = match name.strip_prefix('*') {
            Some(ext) => std::fs::read_dir(&dir).expect("dir").any(|e| {
                e.expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .ends_with(ext)
            }),
            None => dir.join(&name).is_file(),
        };
        assert!(found, "asset {src} missing");
    }
    let units = deb["systemd-units"]["unit-scripts"]
        .as_str()
        .expect("unit-scripts");
    assert!(root().join(units).join("callsign.service").is_file());
    // The shipped /etc config parses and sets nothing: zero configuration.
    let etc = std::fs::read_to_string(root().join("packaging/callsign.toml")).expect("etc config");
    let t: toml::Table = toml::from_str(&etc).expect("parses");
    assert!(t.is_empty(), "the default config sets {t:?}");
}

#[test]
fn the_deb_builds_with_its_contents() {
    if Command::new("cargo-deb").arg("--version").output().is_err() {
        println!(
            "the .deb is not built: cargo-deb is not installed (`./run test` and `./run package` install it)"
        );
        return;
    }
    if !bin().ends_with("release/callsign") {
        println!("the .deb is not built: this is not a release build (cargo test --release)");
        return;
    }
    let d = tmp("deb");
    let out = ok(Command::new(root().join("scripts/package.sh"))
        .args(["--no-build", "--out"])
        .arg(&d));
    let deb = PathBuf::from(out.lines().last().expect("deb path").trim());
    assert!(deb.is_file(), "{out}");
    let list = ok(Command::new("dpkg-deb").arg("-c").arg(&deb));
    for want in [
        "./usr/bin/callsign",
        "./usr/lib/systemd/system/callsign.service",
        "./etc/callsign/callsign.toml",
        "./usr/lib/sysusers.d/callsign.conf",
        "./usr/share/callsign/radio-profiles/truck-5g.toml",
        "./usr/share/callsign/radio-profiles/handset-2g4.toml",
        "./usr/share/man/man1/callsign-up.1.gz",
        "./usr/share/bash-completion/completions/callsign",
        "./usr/share/zsh/vendor-completions/_callsign",
        "./usr/share/fish/vendor_completions.d/callsign.fish",
        "./usr/share/doc/callsign/FIELD-GUIDE.md",
    ] {
        assert!(
            list.lines().any(|l| l.ends_with(want)),
            "{want} not in the package:\n{list}"
        );
    }
    let depends = ok(Command::new("dpkg-deb")
        .args(["-f"])
        .arg(&deb)
        .arg("Depends"));
    assert!(
        depends.contains("libopus0") && depends.contains("iproute2"),
        "{depends}"
    );
    let conffiles = ok(Command::new("sh").arg("-c").arg(format!(
        "dpkg-deb --ctrl-tarfile {} | tar -xO ./conffiles",
        deb.display()
    )));
    assert!(
        conffiles.contains("/etc/callsign/callsign.toml"),
        "{conffiles}"
    );
    let postinst = ok(Command::new("sh").arg("-c").arg(format!(
        "dpkg-deb --ctrl-tarfile {} | tar -xO ./postinst",
        deb.display()
    )));
    let user = postinst.find("systemd-sysusers").expect("the user is made");
    let start = postinst
        .find("deb-systemd-invoke")
        .expect("the unit is started");
    assert!(
        user < start,
        "the user must exist before the unit starts:\n{postinst}"
    );
    // Unpacked, the binary runs and the unit is the one in the tree.
    let x = d.join("x");
    ok(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&x));
    let version = ok(Command::new(x.join("usr/bin/callsign")).arg("--version"));
    assert!(version.starts_with("callsign "), "{version}");
    assert_eq!(
        std::fs::read_to_string(x.join("usr/lib/systemd/system/callsign.service")).expect("unit"),
        std::fs::read_to_string(root().join("packaging/systemd/callsign.service")).expect("unit")
    );
    println!(
        "built {} ({} bytes)",
        deb.display(),
        std::fs::metadata(&deb).map(|m| m.len()).unwrap_or(0)
    );
    let _ = std::fs::remove_dir_all(&d);
}
