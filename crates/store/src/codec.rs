//! The stored form of an event and its hash.
//!
//! Layout (all integers big-endian, strings as length-prefixed UTF-8):
//! `format:u8 position:u64 event_id:[16] stream_id:str16 version:u64 type:str16
//! schema_version:u32 recorded_at:i64 actor_kind:u8 actor_id:str16 actor_name:str16
//! correlation_id:[16] causation:(u8 [16]?) data:str32 prev_hash:[32] hash:[32]`.
//! Format 2 (written only for an actor that is a registered person, so every other event keeps
//! the bytes and hash of format 1) adds `actor_person:[16]` after `actor_name`.
//!
//! The hash is blake3 over every byte before it, so it covers the content, the envelope and the
//! predecessor's hash. Export, import and every backend compute it through [`event_hash`].

use uuid::Uuid;

use crate::{ActorKind, EventHash, Json, RecordedEvent, Timestamp};

const FORMAT: u8 = 1;
/// Format 1 with the actor's person id.
const FORMAT_PERSON: u8 = 2;

/// The hash an event must carry, computed from everything else in it.
pub fn event_hash(event: &RecordedEvent) -> EventHash {
    let mut buf = Vec::with_capacity(256 + event.data.len());
    encode_content(event, &mut buf);
    EventHash(*blake3::hash(&buf).as_bytes())
}

/// The stored bytes of an event (including its hash).
pub fn encode(event: &RecordedEvent) -> Vec<u8> {
    let mut buf = Vec::with_capacity(256 + event.data.len());
    encode_content(event, &mut buf);
    buf.extend_from_slice(&event.hash.0);
    buf
}

fn encode_content(e: &RecordedEvent, buf: &mut Vec<u8>) {
    buf.push(if e.actor.person.is_some() { FORMAT_PERSON } else { FORMAT });
    buf.extend_from_slice(&e.position.to_be_bytes());
    buf.extend_from_slice(e.event_id.as_bytes());
    put_str16(buf, &e.stream_id);
    buf.extend_from_slice(&e.version.to_be_bytes());
    put_str16(buf, &e.event_type);
    buf.extend_from_slice(&e.schema_version.to_be_bytes());
    buf.extend_from_slice(&e.recorded_at.unix_micros().to_be_bytes());
    buf.push(e.actor.kind.code());
    put_str16(buf, &e.actor.id);
    put_str16(buf, &e.actor.name);
    if let Some(person) = e.actor.person {
        buf.extend_from_slice(person.as_bytes());
    }
    buf.extend_from_slice(e.correlation_id.as_bytes());
    match e.causation_id {
        Some(id) => {
            buf.push(1);
            buf.extend_from_slice(id.as_bytes());
        }
        None => buf.push(0),
    }
    let data = e.data.as_str().as_bytes();
    // The payload limit keeps this far below u32::MAX.
    buf.extend_from_slice(&(data.len() as u32).to_be_bytes());
    buf.extend_from_slice(data);
    buf.extend_from_slice(&e.prev_hash.0);
}

fn put_str16(buf: &mut Vec<u8>, s: &str) {
    // Limits keep every 16-bit-prefixed field far below 65,535 bytes.
    buf.extend_from_slice(&(s.len() as u16).to_be_bytes());
    buf.extend_from_slice(s.as_bytes());
}

/// Reads an event from its stored bytes. Never panics on any input.
pub fn decode(bytes: &[u8]) -> Result<RecordedEvent, String> {
    let mut r = Reader { bytes, at: 0 };
    let format = r.u8()?;
    if format != FORMAT && format != FORMAT_PERSON {
        return Err(format!("unknown record format {format}"));
    }
    let position = r.u64()?;
    let event_id = r.uuid()?;
    let stream_id = r.str16()?;
    let version = r.u64()?;
    let event_type = r.str16()?;
    let schema_version = r.u32()?;
    let recorded_at = Timestamp::from_unix_micros(r.u64()? as i64);
    let kind_code = r.u8()?;
    let kind = ActorKind::from_code(kind_code).ok_or(format!("unknown actor kind {kind_code}"))?;
    let actor_id = r.str16()?;
    let actor_name = r.str16()?;
    let actor_person = if format == FORMAT_PERSON { Some(r.uuid()?) } else { None };
    let correlation_id = r.uuid()?;
    let causation_id = match r.u8()? {
        0 => None,
        1 => Some(r.uuid()?),
        other => return Err(format!("bad causation marker {other}")),
    };
    let data_len = r.u32()? as usize;
    let data = Json::from_stored(r.string(data_len)?);
    let prev_hash = EventHash(r.array()?);
    let hash = EventHash(r.array()?);
    if r.at != bytes.len() {
        return Err(format!("{} bytes after the end of the record", bytes.len() - r.at));
    }
    Ok(RecordedEvent {
        position,
        event_id,
        stream_id,
        version,
        event_type,
        schema_version,
        recorded_at,
        actor: crate::Actor { id: actor_id, name: actor_name, kind, person: actor_person },
        correlation_id,
        causation_id,
        data,
        prev_hash,
        hash,
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.bytes.len());
        match end {
            Some(end) => {
                let out = &self.bytes[self.at..end];
                self.at = end;
                Ok(out)
            }
            None => Err(format!("record ends early at byte {} (wanted {n} more)", self.at)),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn uuid(&mut self) -> Result<Uuid, String> {
        Ok(Uuid::from_bytes(self.array()?))
    }

    fn str16(&mut self) -> Result<String, String> {
        let len = u16::from_be_bytes(self.array()?) as usize;
        self.string(len)
    }

    fn string(&mut self, len: usize) -> Result<String, String> {
        let at = self.at;
        String::from_utf8(self.take(len)?.to_vec()).map_err(|_| format!("invalid UTF-8 at byte {at}"))
    }
}
