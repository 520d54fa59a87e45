//! sled holds the indexes of the log (the events are in the segment files, see `segments`), in
//! one tree, [`INDEX_TREE`]:
//!
//! | key | value |
//! | --- | --- |
//! | `S` stream id | the stream's last version (u64 BE) |
//! | `V` stream id `0x00` version (u64 BE) | the event's position (u64 BE) |
//! | `I` event id (16 bytes) | the event's position (u64 BE) |
//! | `H` | the last position the entries above cover (u64 BE) |
//!
//! Stream ids cannot contain `0x00` (see `store::limits`), so `V` keys of different streams do
//! not interleave. Stores written before the segment files kept the events and the same index
//! keys in a tree named `events` (events as `E` position (u64 BE) → the event); opening one
//! moves them (see `legacy`). The new name keeps an older binary, which would open `events`,
//! take the log for empty and write into it, away from the index.

use uuid::Uuid;

/// The sled tree of the index.
pub(crate) const INDEX_TREE: &str = "index";

/// The last position the index covers.
pub(crate) const INDEXED: &[u8] = b"H";

/// The last position the index covers durably (0 when it covers none).
pub(crate) fn read_indexed(tree: &sled::Tree) -> sled::Result<u64> {
    Ok(tree.get(INDEXED)?.and_then(|v| decode_u64(&v)).unwrap_or(0))
}

/// The key under which stores of the first layout held the event at `position`.
pub(crate) fn legacy_event_key(position: u64) -> [u8; 9] {
    let mut key = [b'E'; 9];
    key[1..].copy_from_slice(&position.to_be_bytes());
    key
}

pub(crate) fn stream_key(stream_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + stream_id.len());
    key.push(b'S');
    key.extend_from_slice(stream_id.as_bytes());
    key
}

pub(crate) fn version_key(stream_id: &str, version: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(10 + stream_id.len());
    key.push(b'V');
    key.extend_from_slice(stream_id.as_bytes());
    key.push(0);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

/// The start of the version keys of every stream whose id starts with `prefix`.
pub(crate) fn version_key_prefix(prefix: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + prefix.len());
    key.push(b'V');
    key.extend_from_slice(prefix.as_bytes());
    key
}

pub(crate) fn id_key(event_id: Uuid) -> [u8; 17] {
    let mut key = [b'I'; 17];
    key[1..].copy_from_slice(event_id.as_bytes());
    key
}

pub(crate) fn decode_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}
