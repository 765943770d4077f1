//! Percentiles, one definition for every figure the project prints: the
//! simulator's reports, the application layer's voice figures and the
//! daemon's API all rank samples the same way.

/// Nearest-rank percentile of `v` (`p` in [0, 100]); `None` when empty.
pub fn percentile(v: &[f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * s.len() as f64).ceil().max(1.0) as usize;
    Some(s[rank.min(s.len()) - 1])
}

/// [`percentile`] of millisecond samples, in whole milliseconds.
pub fn percentile_ms(samples: &[u32], p: f64) -> Option<u64> {
    let v: Vec<f64> = samples.iter().map(|&x| f64::from(x)).collect();
    percentile(&v, p).map(|x| x as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(10.0));
        assert_eq!(percentile(&v, 95.0), Some(19.0));
        assert_eq!(percentile(&[3.0], 95.0), Some(3.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile_ms(&[5, 1, 9], 50.0), Some(5));
    }
}
