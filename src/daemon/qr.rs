//! QR codes in a terminal, for a handset's screen: `callsign id --qr`
//! shows the device's public key so the station can scan it instead of
//! retyping 64 hex digits. The encoder is the `qrcode` crate without its
//! image stack; drawing is two modules per character cell with half
//! blocks, black on an explicit white background (ANSI colours), so it
//! scans on dark and light terminals alike.

use qrcode::{Color, EcLevel, QrCode};

/// Modules of white border around the code (the spec's quiet zone).
const QUIET: usize = 4;

/// The lines of a QR code for `data` (error correction M).
pub fn render(data: &[u8]) -> Result<Vec<String>, String> {
    let code = QrCode::with_error_correction_level(data, EcLevel::M)
        .map_err(|e| format!("cannot make a QR code: {e}"))?;
    let w = code.width();
    let colors = code.to_colors();
    let dark = |x: usize, y: usize| -> bool {
        x >= QUIET
            && y >= QUIET
            && x - QUIET < w
            && y - QUIET < w
            && colors[(y - QUIET) * w + (x - QUIET)] == Color::Dark
    };
    let side = w + 2 * QUIET;
    let mut lines = Vec::new();
    for y in (0..side).step_by(2) {
        let mut l = String::from("\x1b[30;47m");
        for x in 0..side {
            l.push(match (dark(x, y), y + 1 < side && dark(x, y + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        l.push_str("\x1b[0m");
        lines.push(l);
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drawing_is_the_code() {
        let data = b"0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF";
        let lines = render(data).expect("render");
        let code = QrCode::with_error_correction_level(&data[..], EcLevel::M).expect("code");
        let w = code.width();
        let side = w + 2 * QUIET;
        assert_eq!(lines.len(), side.div_ceil(2));
        // Read the modules back from the half blocks.
        let cells: Vec<Vec<char>> = lines
            .iter()
            .map(|l| {
                l.trim_start_matches("\x1b[30;47m")
                    .trim_end_matches("\x1b[0m")
                    .chars()
                    .collect()
            })
            .collect();
        let colors = code.to_colors();
        for y in 0..w {
            for x in 0..w {
                let c = cells[(y + QUIET) / 2][x + QUIET];
                let top = (y + QUIET).is_multiple_of(2);
                let drawn = match c {
                    '█' => true,
                    '▀' => top,
                    '▄' => !top,
                    _ => false,
                };
                assert_eq!(drawn, colors[y * w + x] == Color::Dark, "module {x},{y}");
            }
        }
        // The quiet zone is blank.
        assert!(cells[0].iter().all(|&c| c == ' '));
    }
}
