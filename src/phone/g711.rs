//! G.711 mu-law and A-law (ITU-T G.711), for phones that speak nothing
//! else: the daemon transcodes them to and from Opus.

/// 16-bit linear to mu-law.
pub fn ulaw_encode(s: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut x = i32::from(s);
    let sign = if x < 0 { 0x80 } else { 0 };
    if x < 0 {
        x = -x;
    }
    x = x.min(CLIP) + BIAS;
    let exp = (31 - (x as u32).leading_zeros()).saturating_sub(7).min(7) as i32;
    let mant = (x >> (exp + 3)) & 0x0f;
    !(sign | (exp << 4) as u8 | mant as u8)
}

pub fn ulaw_decode(u: u8) -> i16 {
    let u = !u;
    let sign = u & 0x80;
    let exp = i32::from((u >> 4) & 0x07);
    let mant = i32::from(u & 0x0f);
    let x = (((mant << 3) + 0x84) << exp) - 0x84;
    (if sign != 0 { -x } else { x }) as i16
}

/// 16-bit linear to A-law.
pub fn alaw_encode(s: i16) -> u8 {
    let x = i32::from(s) >> 3; // 13-bit
    let (sign, mag) = if x >= 0 { (0x80u8, x) } else { (0, -x - 1) };
    let mag = mag.min(0x0fff);
    let out = if mag < 32 {
        (mag >> 1) as u8
    } else {
        let exp = (31 - (mag as u32).leading_zeros()) as i32 - 4; // 1..=7
        ((exp << 4) as u8) | ((mag >> exp) & 0x0f) as u8
    };
    (out | sign) ^ 0x55
}

pub fn alaw_decode(a: u8) -> i16 {
    let a = a ^ 0x55;
    let exp = i32::from((a >> 4) & 0x07);
    let mant = i32::from(a & 0x0f);
    let mag = if exp == 0 {
        (mant << 4) + 8
    } else {
        ((mant << 4) + 0x108) << (exp - 1)
    };
    (if a & 0x80 != 0 { mag } else { -mag }) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code decodes to a value that encodes back to itself (mu-law's
    /// two zeros aside), and the quantisation error stays within the
    /// segment's step.
    #[test]
    fn codes_round_trip() {
        for c in 0..=255u8 {
            let x = ulaw_decode(c);
            if c != 0x7f {
                assert_eq!(ulaw_encode(x), c, "ulaw {c:#x} -> {x}");
            }
            let y = alaw_decode(c);
            assert_eq!(alaw_encode(y), c, "alaw {c:#x} -> {y}");
        }
    }

    #[test]
    fn error_is_small_relative_to_the_signal() {
        for s in (-32768i32..32767).step_by(97) {
            let s = s as i16;
            let eu = (i32::from(ulaw_decode(ulaw_encode(s))) - i32::from(s)).abs();
            let ea = (i32::from(alaw_decode(alaw_encode(s))) - i32::from(s)).abs();
            let bound = (i32::from(s).abs() / 16).max(16) + 8;
            assert!(
                eu <= bound.max(1100) && ea <= bound.max(1100),
                "{s}: {eu} {ea}"
            );
            assert!(eu <= bound, "ulaw {s}: {eu}");
            assert!(ea <= bound, "alaw {s}: {ea}");
        }
        assert_eq!(ulaw_encode(0), 0xff);
        assert_eq!(alaw_encode(0), 0xd5);
    }
}
