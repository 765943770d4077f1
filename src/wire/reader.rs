//! A cursor over a byte slice for the small hand-written formats (texts,
//! PAR messages): every read is checked and gives `None` when the input is
//! short, never a panic.

pub struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8]) -> Reader<'a> {
        Reader(b)
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }

    /// The next `N` bytes as an array (for `from_be_bytes`).
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// Everything has been read.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_checked() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.array::<2>(), Some([1, 2]));
        assert_eq!(r.take(2), None);
        assert_eq!(r.take(1), Some(&[3][..]));
        assert!(r.is_empty());
    }
}
