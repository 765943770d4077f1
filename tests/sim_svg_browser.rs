//! The bundled scenario's picture, rendered by a real browser: headless
//! Chromium (Debian's `chromium`, which `./run test` installs) opens the
//! SVG `callsign sim --svg` wrote and takes a screenshot. Without
//! Chromium the test says so on stderr and stops: it did not run (set
//! `CALLSIGN_REQUIRE_CHROMIUM=1` to make that a failure instead).
//! `CALLSIGN_UPDATE_DOCS=1` copies the screenshot to `docs/sim-fireground.png`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .filter_map(|n| {
            let out = Command::new("which").arg(n).output().ok()?;
            out.status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
        .next()
}

/// `width="W" height="H"` of the SVG's root element.
fn size(svg: &str) -> (u32, u32) {
    let attr = |name: &str| -> u32 {
        let key = format!(" {name}=\"");
        let start = svg.find(&key).expect("attribute") + key.len();
        let end = start + svg[start..].find('"').expect("closing quote");
        svg[start..end].parse::<f64>().expect("number") as u32
    };
    (attr("width"), attr("height"))
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let be = |o: usize| u32::from_be_bytes([png[o], png[o + 1], png[o + 2], png[o + 3]]);
    (be(16), be(20))
}

fn screenshot(browser: &Path, svg: &Path, png: &Path, w: u32, h: u32) {
    let profile = svg.with_extension("profile");
    let _ = std::fs::remove_dir_all(&profile);
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={w},{h}"))
        .arg(format!("file://{}", svg.display()))
        .output()
        .expect("run chromium");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        out.status.success() && png.exists(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_fireground_picture_renders_in_chromium() {
    let Some(browser) = chromium() else {
        let msg = "SKIPPED the_fireground_picture_renders_in_chromium: no chromium on PATH \
                   (apt-get install chromium; ./run test installs it)";
        assert!(
            std::env::var_os("CALLSIGN_REQUIRE_CHROMIUM").is_none(),
            "{msg}"
        );
        eprintln!("{msg}");
        return;
    };
    let dir = std::env::temp_dir().join(format!("callsign-svg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let svg = dir.join("fireground.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_callsign"))
        .args(["sim", "--svg"])
        .arg(&svg)
        .args(["--svg-ranges", "--no-wall-clock", "--quiet"])
        .output()
        .expect("run callsign");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&svg).expect("svg written");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("fireground.svg"),
        "the summary names the file: {stdout}"
    );
    // Self-contained: no script, nothing fetched.
    assert!(
        !text.contains("<script") && !text.contains("href=\"http") && !text.contains("@import")
    );
    for words in [
        "Legend",
        "scale: ",
        "ff-3 DEAD 40.0 s",
        "flow 1: ff-5 to engine-1",
        "engine-1",
        "medic-8",
    ] {
        assert!(text.contains(words), "the picture lacks {words:?}");
    }
    let (w, h) = size(&text);
    let png = dir.join("fireground.png");
    screenshot(&browser, &svg, &png, w, h);
    let bytes = std::fs::read(&png).expect("png");
    assert_eq!(png_size(&bytes), (w, h));
    // A blank page of that size compresses to a few kilobytes; the map,
    // its labels and the legend take far more.
    assert!(
        bytes.len() > 60_000,
        "screenshot of {} bytes looks blank",
        bytes.len()
    );
    if std::env::var_os("CALLSIGN_UPDATE_DOCS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/sim-fireground.png");
        std::fs::copy(&png, &docs).expect("copy to docs");
        eprintln!("wrote {}", docs.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
