#![no_main]
//! The application layer's unicast payloads: the PAR roll call
//! (`app::par_wire`), node-to-node texts (`session::text`) and the call
//! payload header (`voice::call_payload`). Total, and stable under
//! re-encoding.
use callsign::app::par_wire::ParMsg;
use callsign::session::text::TextMsg;
use callsign::voice::call_payload::CallPayload;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = ParMsg::decode(data) {
        assert_eq!(ParMsg::decode(&m.encode()).ok(), Some(m));
    }
    if let Ok(m) = TextMsg::decode(data) {
        assert_eq!(TextMsg::decode(&m.encode()).ok(), Some(m));
    }
    if let Ok(p) = CallPayload::decode(data) {
        let again = p.encode();
        let q = CallPayload::decode(&again).ok();
        assert_eq!(
            q.map(|q| (q.event, q.report, q.rtp_ts, q.body)),
            Some((p.event, p.report, p.rtp_ts, p.body))
        );
    }
});
