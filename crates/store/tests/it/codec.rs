//! The stored form: round trips, and no input makes decoding panic.

use proptest::prelude::*;
use store::{decode, encode, event_hash, Actor, ActorKind, EventHash, Json, RecordedEvent, Timestamp};
use uuid::Uuid;

fn event(stream: String, payload: String, micros: i64, causation: bool) -> RecordedEvent {
    event_by(stream, payload, micros, causation, None)
}

fn event_by(
    stream: String,
    payload: String,
    micros: i64,
    causation: bool,
    person: Option<Uuid>,
) -> RecordedEvent {
    let mut e = RecordedEvent {
        position: 42,
        event_id: Uuid::now_v7(),
        stream_id: stream,
        version: 7,
        event_type: "StepCompleted".into(),
        schema_version: 2,
        recorded_at: Timestamp::from_unix_micros(micros),
        actor: Actor { id: "person:ä".into(), name: "Änne".into(), kind: ActorKind::Automation, person },
        correlation_id: Uuid::now_v7(),
        causation_id: causation.then(Uuid::now_v7),
        data: Json::to_json(&payload).expect("json"),
        prev_hash: EventHash([7; 32]),
        hash: EventHash::GENESIS,
    };
    e.hash = event_hash(&e);
    e
}

proptest! {
    #[test]
    fn encode_then_decode_is_identity(stream in "[a-z0-9:-]{1,40}", payload in ".{0,200}", micros in 0i64..4_000_000_000_000_000, causation: bool, person: bool) {
        let e = event_by(stream, payload, micros, causation, person.then(Uuid::now_v7));
        prop_assert_eq!(decode(&encode(&e)), Ok(e));
    }

    #[test]
    fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn decoding_a_truncated_or_altered_record_fails_or_changes_the_hash(cut in 0usize..300, flip in 0usize..300) {
        let e = event("s".into(), "payload".into(), 1, true);
        let bytes = encode(&e);
        prop_assert!(decode(&bytes[..cut.min(bytes.len() - 1)]).is_err());
        let mut altered = bytes.clone();
        let at = flip % altered.len();
        altered[at] ^= 0x80;
        if let Ok(d) = decode(&altered) {
            prop_assert!(event_hash(&d) != d.hash, "a changed byte at {} went unnoticed", at);
        }
    }

    #[test]
    fn timestamps_print_and_parse_back(micros in -50_000_000_000_000_000i64..250_000_000_000_000_000) {
        let t = Timestamp::from_unix_micros(micros);
        prop_assert_eq!(t.to_string().parse::<Timestamp>(), Ok(t));
    }
}

#[test]
fn ndjson_line_round_trips_byte_for_byte() {
    let e =
        event("rollout-wohngeld:120540000000".into(), "Zustellpunkt ✓".into(), 1_764_403_200_000_000, false);
    let line = serde_json::to_string(&e).expect("serialize");
    let back: RecordedEvent = serde_json::from_str(&line).expect("parse");
    assert_eq!(back, e);
    assert_eq!(serde_json::to_string(&back).expect("serialize"), line);
    assert!(line.contains(r#""recordedAt":"2025-11-29T08:00:00.000000Z""#), "{line}");
}

#[test]
fn an_actor_that_is_a_person_is_format_2_and_others_keep_format_1() {
    let plain = event("s".into(), "p".into(), 1, false);
    assert_eq!(encode(&plain)[0], 1, "an event without a person keeps the first format, byte for byte");
    let person = Uuid::now_v7();
    let by_person = event_by("s".into(), "p".into(), 1, false, Some(person));
    let bytes = encode(&by_person);
    assert_eq!(bytes[0], 2);
    assert_eq!(bytes.len(), encode(&plain).len() + 16, "format 2 adds the person id, nothing else");
    assert_eq!(decode(&bytes).expect("decodes").actor.person, Some(person));
    assert_ne!(event_hash(&by_person), event_hash(&plain), "the hash covers the person id");
}
