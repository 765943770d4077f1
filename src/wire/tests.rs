use proptest::prelude::*;

use super::control::*;
use super::*;

fn node_id() -> impl Strategy<Value = NodeId> {
    any::<[u8; 16]>().prop_map(NodeId)
}

fn packet_type() -> impl Strategy<Value = PacketType> {
    prop_oneof![
        Just(PacketType::Hello),
        Just(PacketType::Update),
        Just(PacketType::Request),
        Just(PacketType::Ack),
        Just(PacketType::FloodNack),
        Just(PacketType::Data),
        Just(PacketType::Flood),
    ]
}

fn header() -> impl Strategy<Value = Header> {
    (
        packet_type(),
        any::<u8>(),
        any::<u8>(),
        node_id(),
        any::<u32>(),
        node_id(),
    )
        .prop_map(|(ty, flags, hop_limit, src, seq, dst)| Header {
            ty,
            flags,
            hop_limit,
            src,
            seq,
            dst: ty.is_routed().then_some(dst),
        })
}

fn ihu() -> impl Strategy<Value = Ihu> {
    (node_id(), any::<u16>(), any::<bool>()).prop_map(|(id, rxcost, mpr)| Ihu { id, rxcost, mpr })
}

fn hello() -> impl Strategy<Value = Hello> {
    (
        any::<u32>(),
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(proptest::collection::vec(ihu(), 0..20)),
        proptest::collection::vec("[a-z0-9.-]{1,20}", 0..4),
        proptest::collection::vec(node_id(), 0..4),
        any::<u32>(),
        proptest::option::of((any::<u32>(), any::<u32>())),
    )
        .prop_map(
            |(interval_ms, probe, probe_reply, ihu, names, lost, update_seq, dir)| Hello {
                dir: dir.map(|(hash, count)| DirDigest { hash, count }),
                interval_ms,
                probe,
                probe_reply,
                ihu,
                names,
                lost,
                update_seq,
                routes: Some(update_seq / 3),
            },
        )
}

fn route_entry() -> impl Strategy<Value = RouteEntry> {
    (
        node_id(),
        any::<u16>(),
        any::<u16>(),
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(|(dest, seqno, metric, hops, base)| RouteEntry {
            dest,
            seqno,
            metric,
            hops,
            base,
        })
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        Just(Request::Table),
        (any::<u32>(), any::<u32>()).prop_map(|(from, to)| Request::Resend { from, to }),
        (any::<u16>(), any::<u64>())
            .prop_map(|(parts, missing)| Request::TableParts { parts, missing }),
        (node_id(), any::<u16>(), any::<u8>(), node_id()).prop_map(
            |(dest, seqno, hop_count, origin)| Request::Seqno {
                dest,
                seqno,
                hop_count,
                origin
            }
        ),
    ]
}

proptest! {
    #[test]
    fn header_round_trips(h in header(), body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let pkt = h.to_packet(&body);
        let (back, b) = Header::parse(&pkt).unwrap();
        prop_assert_eq!(back, h);
        prop_assert_eq!(b, &body[..]);
    }

    #[test]
    fn header_parse_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = Header::parse(&bytes);
    }

    #[test]
    fn header_parse_is_total_with_valid_prefix(ty in packet_type(), rest in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut bytes = vec![VERSION, ty as u8];
        bytes.extend(rest);
        let _ = Header::parse(&bytes);
    }

    #[test]
    fn hello_round_trips(h in hello()) {
        prop_assert_eq!(decode::<Hello>(&encode(&h)).unwrap(), h);
    }

    #[test]
    fn update_round_trips(entries in proptest::collection::vec(route_entry(), 0..40)) {
        let u = Update { entries };
        prop_assert_eq!(decode::<Update>(&encode(&u)).unwrap(), u);
    }

    #[test]
    fn request_round_trips(r in request()) {
        prop_assert_eq!(decode::<Request>(&encode(&r)).unwrap(), r);
    }

    #[test]
    fn redundant_bodies_round_trip(prev in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..=MAX_REDUNDANT), cur in proptest::collection::vec(any::<u8>(), 0..300)) {
        let refs: Vec<&[u8]> = prev.iter().map(Vec::as_slice).collect();
        let b = join_redundant(&refs, &cur);
        prop_assert_eq!(split_redundant(&b), Some((refs, cur.as_slice())));
    }

    #[test]
    fn split_redundant_is_total(b in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = split_redundant(&b);
    }

    #[test]
    fn flood_nack_round_trips(src in node_id(), seqs in proptest::collection::vec(any::<u32>(), 0..=MAX_NACK)) {
        let n = FloodNack { src, seqs };
        prop_assert_eq!(decode::<FloodNack>(&encode(&n)).unwrap(), n);
    }

    #[test]
    fn ack_round_trips(acked in proptest::collection::vec((node_id(), any::<u32>()).prop_map(|(src, seq)| AckEntry { src, seq }), 0..40)) {
        let a = Ack { acked };
        prop_assert_eq!(decode::<Ack>(&encode(&a)).unwrap(), a);
    }

    #[test]
    fn control_decoders_are_total(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode::<Hello>(&bytes);
        let _ = decode::<Update>(&bytes);
        let _ = decode::<Request>(&bytes);
        let _ = decode::<Ack>(&bytes);
        let _ = decode::<FloodNack>(&bytes);
    }

    #[test]
    fn encoding_is_deterministic(h in hello()) {
        prop_assert_eq!(encode(&h), encode(&h.clone()));
    }
}

#[test]
fn rejects_bad_version_type_and_length() {
    let h = Header::link(PacketType::Hello, 0, NodeId([1; 16]), 5);
    let mut p = h.to_packet(&[]);
    assert!(Header::parse(&p).is_ok());
    p[0] = 9;
    assert_eq!(Header::parse(&p), Err(WireError::Version(9)));
    p[0] = VERSION;
    p[1] = 200;
    assert_eq!(Header::parse(&p), Err(WireError::UnknownType(200)));
    p[1] = PacketType::Data as u8;
    assert!(matches!(
        Header::parse(&p),
        Err(WireError::Truncated { .. })
    ));
    assert!(matches!(
        Header::parse(&vec![VERSION; MAX_PACKET + 1]),
        Err(WireError::TooLong(_))
    ));
}

#[test]
fn trailing_bytes_and_huge_lists_are_rejected() {
    let mut b = encode(&Ack::default());
    b.push(0);
    assert!(decode::<Ack>(&b).is_err());
    let big = Update {
        entries: vec![
            RouteEntry {
                dest: NodeId([0; 16]),
                seqno: 0,
                metric: 0,
                hops: 0,
                base: false
            };
            MAX_LIST + 1
        ],
    };
    assert!(decode::<Update>(&encode(&big)).is_err());
}

#[test]
fn hop_limit_helpers() {
    let h = Header::routed(PacketType::Data, 0, NodeId([1; 16]), NodeId([2; 16]), 1);
    let mut p = h.to_packet(b"x");
    assert_eq!(hops_travelled(p[3]), 1);
    assert_eq!(decrement_hop_limit(&mut p), Some(DEFAULT_HOP_LIMIT - 1));
    assert_eq!(hops_travelled(p[3]), 2);
    p[3] = 1;
    assert_eq!(decrement_hop_limit(&mut p), None);
}
