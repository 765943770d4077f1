//! The console's mesh map on the wire: a console's node asks a node for
//! its neighbour list and the node answers with it. Carried as
//! control-class unicast (`proto::MAP`), so every hop acknowledges it;
//! sent only while a map is open (`node::map`).
//!
//! ```text
//! request: 01 | ask u32
//! answer:  02 | ask u32 | n × (id prefix [4] | level u8)     n <= 16
//! ```
//!
//! A neighbour is named by the first [`ID_PREFIX`] bytes of its NodeId
//! (the asker matches them against the nodes it knows) and a coarse link
//! level, so a full answer is 85 bytes. Entries are sorted by prefix,
//! strictly: one list has one encoding.
//!
//! [`MapPacket::new_checked`] validates a datagram's body once (kind,
//! length, levels, order), so the view's accessors cannot fail;
//! [`MapMsg`] is the parsed form. Neither panics on any input.

use super::WireError;
use crate::identity::NodeId;

/// Most neighbours one answer lists (the best links are kept).
pub const MAX_NEIGHBOURS: usize = 16;
/// Bytes of NodeId that name a neighbour. A clash among a few hundred
/// nodes is ~2^-17 likely and would only draw one wrong line on a map.
pub const ID_PREFIX: usize = 4;
/// Bytes per entry: the prefix and the level.
pub const ENTRY_LEN: usize = ID_PREFIX + 1;
/// Kind byte and ask id.
pub const HEADER_LEN: usize = 5;
/// Largest message.
pub const MAX_LEN: usize = HEADER_LEN + MAX_NEIGHBOURS * ENTRY_LEN;

const REQUEST: u8 = 1;
const ANSWER: u8 = 2;

/// Link quality in three steps: what a map's line colour can say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LinkLevel {
    /// Most hellos get through both ways (ETX up to 2).
    Good,
    /// Usable with retries (ETX up to 4).
    Fair,
    /// Up, but most packets are lost.
    Poor,
}

impl LinkLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkLevel::Good => "good",
            LinkLevel::Fair => "fair",
            LinkLevel::Poor => "poor",
        }
    }

    /// The level of a link of routing cost `cost` (256 = lossless).
    pub fn of_cost(cost: u16) -> LinkLevel {
        match cost {
            0..=512 => LinkLevel::Good,
            513..=1024 => LinkLevel::Fair,
            _ => LinkLevel::Poor,
        }
    }

    fn to_byte(self) -> u8 {
        match self {
            LinkLevel::Good => 0,
            LinkLevel::Fair => 1,
            LinkLevel::Poor => 2,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0 => LinkLevel::Good,
            1 => LinkLevel::Fair,
            2 => LinkLevel::Poor,
            _ => return None,
        })
    }
}

/// One listed neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NeighbourRef {
    pub prefix: [u8; ID_PREFIX],
    pub level: LinkLevel,
}

impl NeighbourRef {
    pub fn new(id: &NodeId, level: LinkLevel) -> Self {
        let mut prefix = [0u8; ID_PREFIX];
        prefix.copy_from_slice(&id.0[..ID_PREFIX]);
        NeighbourRef { prefix, level }
    }

    /// Whether this entry names `id`.
    pub fn names(&self, id: &NodeId) -> bool {
        id.0[..ID_PREFIX] == self.prefix
    }
}

/// The list an answer carries: the best [`MAX_NEIGHBOURS`] links (then
/// lowest prefix), one entry per prefix, sorted by prefix.
pub fn normalise(list: &[NeighbourRef]) -> Vec<NeighbourRef> {
    let mut v = list.to_vec();
    v.sort_by_key(|n| (n.level, n.prefix));
    let mut seen = std::collections::BTreeSet::new();
    v.retain(|n| seen.insert(n.prefix));
    v.truncate(MAX_NEIGHBOURS);
    v.sort_by_key(|n| n.prefix);
    v
}

/// A checked view of a map message's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapPacket<'a> {
    buf: &'a [u8],
}

impl<'a> MapPacket<'a> {
    /// Check kind, length, levels and order once; every malformed input
    /// is an error.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        let bad = |why: &str| WireError::Body(format!("map message: {why}"));
        if buf.len() < HEADER_LEN {
            return Err(WireError::Truncated {
                len: buf.len(),
                need: HEADER_LEN,
            });
        }
        if buf.len() > MAX_LEN {
            return Err(WireError::TooLong(buf.len()));
        }
        match buf[0] {
            REQUEST if buf.len() == HEADER_LEN => {}
            REQUEST => return Err(bad("trailing bytes")),
            ANSWER => {
                let body = &buf[HEADER_LEN..];
                if !body.len().is_multiple_of(ENTRY_LEN) {
                    return Err(bad("partial entry"));
                }
                let mut last: Option<&[u8]> = None;
                for e in body.chunks_exact(ENTRY_LEN) {
                    if LinkLevel::from_byte(e[ID_PREFIX]).is_none() {
                        return Err(bad("unknown link level"));
                    }
                    let p = &e[..ID_PREFIX];
                    if last.is_some_and(|l| l >= p) {
                        return Err(bad("entries out of order"));
                    }
                    last = Some(p);
                }
            }
            _ => return Err(bad("unknown kind")),
        }
        Ok(MapPacket { buf })
    }

    pub fn is_request(&self) -> bool {
        self.buf[0] == REQUEST
    }

    /// The asker's id of the request, echoed by the answer.
    pub fn ask(&self) -> u32 {
        u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]])
    }

    /// An answer's entries (none for a request).
    pub fn entries(&self) -> impl Iterator<Item = NeighbourRef> + 'a {
        self.buf[HEADER_LEN..].chunks_exact(ENTRY_LEN).map(|e| {
            let mut prefix = [0u8; ID_PREFIX];
            prefix.copy_from_slice(&e[..ID_PREFIX]);
            NeighbourRef {
                prefix,
                // Checked by `new_checked`.
                level: LinkLevel::from_byte(e[ID_PREFIX]).unwrap_or(LinkLevel::Poor),
            }
        })
    }
}

/// A map message, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapMsg {
    Request { ask: u32 },
    Answer { ask: u32, list: Vec<NeighbourRef> },
}

impl MapMsg {
    pub fn parse(p: &MapPacket<'_>) -> MapMsg {
        if p.is_request() {
            MapMsg::Request { ask: p.ask() }
        } else {
            MapMsg::Answer {
                ask: p.ask(),
                list: p.entries().collect(),
            }
        }
    }

    /// Check and parse in one go.
    pub fn decode(buf: &[u8]) -> Result<MapMsg, WireError> {
        MapPacket::new_checked(buf).map(|p| MapMsg::parse(&p))
    }

    /// The message's bytes; an answer's list is normalised first.
    pub fn emit(&self) -> Vec<u8> {
        match self {
            MapMsg::Request { ask } => {
                let mut v = vec![REQUEST];
                v.extend_from_slice(&ask.to_be_bytes());
                v
            }
            MapMsg::Answer { ask, list } => {
                let list = normalise(list);
                let mut v = Vec::with_capacity(HEADER_LEN + list.len() * ENTRY_LEN);
                v.push(ANSWER);
                v.extend_from_slice(&ask.to_be_bytes());
                for n in list {
                    v.extend_from_slice(&n.prefix);
                    v.push(n.level.to_byte());
                }
                v
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(b: u8) -> NodeId {
        NodeId([b; 16])
    }

    fn level() -> impl Strategy<Value = LinkLevel> {
        prop_oneof![
            Just(LinkLevel::Good),
            Just(LinkLevel::Fair),
            Just(LinkLevel::Poor)
        ]
    }

    fn msg() -> impl Strategy<Value = MapMsg> {
        let entry = (any::<[u8; ID_PREFIX]>(), level())
            .prop_map(|(prefix, level)| NeighbourRef { prefix, level });
        prop_oneof![
            any::<u32>().prop_map(|ask| MapMsg::Request { ask }),
            (any::<u32>(), proptest::collection::vec(entry, 0..24)).prop_map(|(ask, list)| {
                MapMsg::Answer {
                    ask,
                    list: normalise(&list),
                }
            }),
        ]
    }

    #[test]
    fn answers_keep_the_best_sixteen_sorted() {
        let list: Vec<NeighbourRef> = (0..20u8)
            .rev()
            .map(|i| {
                let l = if i < 10 {
                    LinkLevel::Good
                } else {
                    LinkLevel::Poor
                };
                NeighbourRef::new(&id(i), l)
            })
            .collect();
        let bytes = MapMsg::Answer { ask: 7, list }.emit();
        assert_eq!(bytes.len(), MAX_LEN);
        let MapMsg::Answer { ask, list } = MapMsg::decode(&bytes).expect("decodes") else {
            panic!("not an answer");
        };
        assert_eq!(ask, 7);
        assert_eq!(list.len(), MAX_NEIGHBOURS);
        assert_eq!(
            list.iter().filter(|n| n.level == LinkLevel::Good).count(),
            10
        );
        assert!(list[0].names(&id(0)));
    }

    #[test]
    fn malformed_messages_are_errors() {
        let good = MapMsg::Answer {
            ask: 1,
            list: vec![
                NeighbourRef::new(&id(1), LinkLevel::Good),
                NeighbourRef::new(&id(2), LinkLevel::Fair),
            ],
        }
        .emit();
        assert!(MapMsg::decode(&good).is_ok());
        for n in 0..good.len() {
            // Cut at an entry boundary, it is a shorter answer.
            if !(n >= HEADER_LEN && (n - HEADER_LEN).is_multiple_of(ENTRY_LEN)) {
                assert!(MapMsg::decode(&good[..n]).is_err(), "cut at {n}");
            }
        }
        let mut level = good.clone();
        level[HEADER_LEN + ID_PREFIX] = 3;
        assert!(MapMsg::decode(&level).is_err(), "unknown level");
        let mut order = good.clone();
        order[HEADER_LEN..HEADER_LEN + ID_PREFIX].copy_from_slice(&[9; 4]);
        assert!(MapMsg::decode(&order).is_err(), "out of order");
        let mut long = MapMsg::Request { ask: 1 }.emit();
        long.push(0);
        assert!(MapMsg::decode(&long).is_err(), "request with a tail");
        let mut kind = good;
        kind[0] = 9;
        assert!(MapMsg::decode(&kind).is_err(), "unknown kind");
        assert!(MapMsg::decode(&[ANSWER; MAX_LEN + ENTRY_LEN]).is_err());
    }

    #[test]
    fn levels_follow_the_cost() {
        assert_eq!(LinkLevel::of_cost(256), LinkLevel::Good);
        assert_eq!(LinkLevel::of_cost(512), LinkLevel::Good);
        assert_eq!(LinkLevel::of_cost(700), LinkLevel::Fair);
        assert_eq!(LinkLevel::of_cost(2000), LinkLevel::Poor);
    }

    proptest! {
        #[test]
        fn round_trip(m in msg()) {
            let bytes = m.emit();
            let view = MapPacket::new_checked(&bytes);
            prop_assert!(view.is_ok());
            prop_assert_eq!(MapMsg::decode(&bytes), Ok(m));
        }

        #[test]
        fn arbitrary_bytes_never_panic(mut data in proptest::collection::vec(any::<u8>(), 0..100), kind in 1u8..3) {
            let _ = MapMsg::decode(&data);
            if let Some(b) = data.first_mut() {
                *b = kind;
            }
            if let Ok(m) = MapMsg::decode(&data) {
                // What decodes is canonical: it re-encodes to the same bytes.
                prop_assert_eq!(m.emit(), data);
            }
        }
    }
}
