//! `callsign sim` on the command line: the default run and bad input.

use std::process::Command;

fn sim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_callsign"))
        .arg("sim")
        .args(args)
        .output()
        .expect("run callsign")
}

#[test]
fn default_scenario_prints_a_summary() {
    let out = sim(&["--quiet"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("fireground"), "{text}");
    assert!(text.contains("converged_ms"), "{text}");
}

#[test]
fn bad_input_exits_with_2() {
    let dir = std::env::temp_dir().join(format!("callsign-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\n[[node]]\nname = 3\n").expect("write");
    let bad = bad.to_string_lossy().to_string();
    for args in [
        vec!["--topology", "torus"],
        vec!["--topology", "line", "--nodes", "1"],
        vec!["--scenario", bad.as_str()],
        vec!["--topology", "line", "--loss", "2"],
        vec!["--topology", "line", "--kill", "99@3"],
    ] {
        let out = sim(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stderr.is_empty());
    }
}
