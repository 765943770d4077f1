#![no_main]
//! The HTTP API's JSON request bodies: `serde_json::from_slice` of every
//! request type the daemon deserializes never panics, and what decodes
//! encodes to JSON that decodes again. Needs the daemon feature.
use callsign::daemon::console_dto::{MaydayAction, ParStartRequest};
use callsign::daemon::dto;
use callsign::daemon::msg_dto::SendRequest;
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn one<T: DeserializeOwned + Serialize>(data: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<T>(data) {
        let again = serde_json::to_vec(&v).expect("a decoded body encodes");
        assert!(serde_json::from_slice::<T>(&again).is_ok());
    }
}

fuzz_target!(|data: &[u8]| {
    one::<SendRequest>(data);
    one::<ParStartRequest>(data);
    one::<MaydayAction>(data);
    one::<dto::PingRequest>(data);
    one::<dto::ClaimRequest>(data);
    one::<dto::ReleaseRequest>(data);
    one::<dto::HandoverRequest>(data);
    one::<dto::PresenceRequest>(data);
    one::<dto::DialRequest>(data);
    one::<dto::AnswerRequest>(data);
    one::<dto::HangupRequest>(data);
    one::<dto::ListenRequest>(data);
    one::<dto::PttRequest>(data);
    one::<dto::MaydayRequest>(data);
    one::<dto::BenchSend>(data);
    one::<dto::RevokeRequest>(data);
});
