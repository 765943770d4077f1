//! The few certificate fields webpki does not hand out (validity, subject
//! CN and O, the raw Ed25519 key), read by a small DER walker.
//!
//! Total like every decoder in the crate: any input gives a value or an
//! error, never a panic, and nothing is allocated beyond the strings it
//! returns. It is only ever run on certificates webpki has already parsed
//! (and, for peers, verified), but it does not rely on that.

use super::TrustError;

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const VERSION_TAG: u8 = 0xa0;
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_O: &[u8] = &[0x55, 0x04, 0x0a];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

fn bad(what: &'static str) -> TrustError {
    TrustError::Malformed(what)
}

/// A cursor over DER bytes.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn at_end(&self) -> bool {
        self.buf.is_empty()
    }

    /// One TLV: its tag, its value and its whole encoding. Low tag numbers
    /// and definite lengths of up to four bytes only (all a certificate
    /// needs).
    fn tlv(&mut self) -> Result<(u8, &'a [u8], &'a [u8]), TrustError> {
        let whole = self.buf;
        let (&tag, rest) = whole.split_first().ok_or(bad("truncated"))?;
        if tag & 0x1f == 0x1f {
            return Err(bad("high tag number"));
        }
        let (&first, mut rest) = rest.split_first().ok_or(bad("truncated"))?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return Err(bad("bad length"));
            }
            let (len_bytes, after) = rest.split_at(n);
            rest = after;
            len_bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        if rest.len() < len {
            return Err(bad("truncated"));
        }
        let (value, after) = rest.split_at(len);
        let header = whole.len() - rest.len();
        self.buf = after;
        Ok((tag, value, &whole[..header + len]))
    }

    fn expect(&mut self, tag: u8) -> Result<&'a [u8], TrustError> {
        match self.tlv()? {
            (t, value, _) if t == tag => Ok(value),
            _ => Err(bad("unexpected tag")),
        }
    }
}

/// Split concatenated DER certificates (a chain, leaf first).
pub fn split_certs(bytes: &[u8], max: usize) -> Result<Vec<&[u8]>, TrustError> {
    let mut r = Reader::new(bytes);
    let mut out = Vec::new();
    while !r.at_end() {
        if out.len() == max {
            return Err(TrustError::ChainTooLong(max));
        }
        match r.tlv()? {
            (SEQUENCE, _, whole) => out.push(whole),
            _ => return Err(bad("not a certificate")),
        }
    }
    if out.is_empty() {
        return Err(bad("empty"));
    }
    Ok(out)
}

/// What the trust layer reads from a certificate itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    /// Unix seconds (times before 1970 read as 0).
    pub not_before: u64,
    pub not_after: u64,
    pub common_name: Option<String>,
    pub organization: Option<String>,
    /// The subject key, when it is an Ed25519 key.
    pub ed25519_key: Option<[u8; 32]>,
}

/// Read [`Fields`] from one DER certificate.
pub fn fields(cert: &[u8]) -> Result<Fields, TrustError> {
    let mut outer = Reader::new(cert);
    let mut cert = Reader::new(outer.expect(SEQUENCE)?);
    let mut tbs = Reader::new(cert.expect(SEQUENCE)?);
    let (mut tag, mut value, _) = tbs.tlv()?;
    if tag == VERSION_TAG {
        (tag, value, _) = tbs.tlv()?;
    }
    if tag != INTEGER || value.is_empty() {
        return Err(bad("serial"));
    }
    tbs.expect(SEQUENCE)?; // signature algorithm
    tbs.expect(SEQUENCE)?; // issuer
    let mut validity = Reader::new(tbs.expect(SEQUENCE)?);
    let not_before = time(&mut validity)?;
    let not_after = time(&mut validity)?;
    let (common_name, organization) = subject(tbs.expect(SEQUENCE)?)?;
    let ed25519_key = ed25519_spki(tbs.expect(SEQUENCE)?);
    Ok(Fields {
        not_before,
        not_after,
        common_name,
        organization,
        ed25519_key,
    })
}

/// CN and O of a Name (the contents of its SEQUENCE).
fn subject(name: &[u8]) -> Result<(Option<String>, Option<String>), TrustError> {
    let (mut cn, mut o) = (None, None);
    let mut rdns = Reader::new(name);
    while !rdns.at_end() {
        let mut set = Reader::new(rdns.expect(SET)?);
        while !set.at_end() {
            let mut atv = Reader::new(set.expect(SEQUENCE)?);
            let oid = atv.expect(OID)?;
            let (_, value, _) = atv.tlv()?;
            let text = std::str::from_utf8(value).map_err(|_| bad("name is not UTF-8"))?;
            if oid == OID_CN {
                cn = Some(text.to_string());
            } else if oid == OID_O {
                o = Some(text.to_string());
            }
        }
    }
    Ok((cn, o))
}

/// The raw key of an Ed25519 SubjectPublicKeyInfo (contents of its
/// SEQUENCE), or `None` for any other key.
fn ed25519_spki(spki: &[u8]) -> Option<[u8; 32]> {
    let mut r = Reader::new(spki);
    let mut alg = Reader::new(r.expect(SEQUENCE).ok()?);
    if alg.expect(OID).ok()? != OID_ED25519 || !alg.at_end() {
        return None;
    }
    let bits = r.expect(BIT_STRING).ok()?;
    let (&unused, key) = bits.split_first()?;
    if unused != 0 || !r.at_end() {
        return None;
    }
    key.try_into().ok()
}

/// A UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn time(r: &mut Reader<'_>) -> Result<u64, TrustError> {
    let (tag, value, _) = r.tlv()?;
    let digits = value.strip_suffix(b"Z").ok_or(bad("time zone"))?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad("time digits"));
    }
    let num = |s: &[u8]| s.iter().fold(0i64, |a, &d| a * 10 + i64::from(d - b'0'));
    let (year, rest) = match (tag, digits.len()) {
        (UTC_TIME, 12) => {
            let yy = num(&digits[..2]);
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &digits[2..])
        }
        (GENERALIZED_TIME, 14) => (num(&digits[..4]), &digits[4..]),
        _ => return Err(bad("time")),
    };
    let [month, day, hour, min, sec] = [0, 2, 4, 6, 8].map(|i| num(&rest[i..i + 2]));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return Err(bad("time out of range"));
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec;
    Ok(u64::try_from(secs).unwrap_or(0))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trust_der_times_read_as_unix_seconds() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        let mut r = Reader::new(b"\x17\x0d000301000000Z");
        assert_eq!(time(&mut r), Ok(11_017 * 86_400));
        let mut r = Reader::new(b"\x18\x0f99991231235959Z");
        assert_eq!(time(&mut r), Ok(253_402_300_799));
        let mut r = Reader::new(b"\x17\x0d691231235959Z");
        assert_eq!(time(&mut r), Ok(0)); // UTCTime 69 is 1969: before the epoch
        let mut r = Reader::new(b"\x17\x0d000301000000+");
        assert!(time(&mut r).is_err());
    }

    #[test]
    fn trust_der_split_refuses_junk_and_long_chains() {
        assert!(split_certs(b"", 4).is_err());
        assert!(split_certs(b"\x02\x01\x00", 4).is_err());
        assert_eq!(
            split_certs(b"\x30\x00\x30\x01\x00", 4).map(|v| v.len()),
            Ok(2)
        );
        assert_eq!(
            split_certs(b"\x30\x00\x30\x00", 1),
            Err(TrustError::ChainTooLong(1))
        );
        assert!(split_certs(b"\x30\x84\xff\xff\xff\xff", 4).is_err());
    }

    proptest! {
        #[test]
        fn trust_der_walker_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = fields(&data);
            let _ = split_certs(&data, 4);
            let _ = subject(&data);
            let _ = ed25519_spki(&data);
        }
    }
}
