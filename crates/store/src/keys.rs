//! Keys for personal data (crypto-shredding), kept beside the log and never in it.
//!
//! A person's personal values are stored in the log only as ciphertext under the person's own
//! key ([`Key::seal`]: XChaCha20-Poly1305 from RustCrypto's `chacha20poly1305`, a random 192-bit
//! nonce per value, the person's id as associated data so a ciphertext cannot be moved to
//! another person). Erasing the person destroys the key ([`KeyStore::destroy`]); the
//! ciphertext stays in the hash-chained log, so every event's hash — and `verify` — is
//! unchanged, but nothing can read it any more.
//!
//! A backend keeps the keys where it can make a destroyed key physically gone (the sled store:
//! a key file under a key-encryption key that is replaced on every erasure; PostgreSQL: a
//! table rewritten likewise). [`MemoryKeys`] is the store of tests and of [`crate::MemoryStore`].

use std::collections::HashMap;
use std::sync::Mutex;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::StoreError;

/// Bytes of a key.
pub const KEY_BYTES: usize = 32;
/// Bytes of a nonce (XChaCha20-Poly1305).
pub const NONCE_BYTES: usize = 24;
/// Bytes the authentication tag adds.
pub const TAG_BYTES: usize = 16;
/// Bytes of a key sealed under another ([`Key::wrap`]).
pub const WRAPPED_BYTES: usize = NONCE_BYTES + KEY_BYTES + TAG_BYTES;

/// A 256-bit key, wiped from memory when dropped; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(Zeroizing<[u8; KEY_BYTES]>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

/// A sealed value that does not open: another key, another person, or altered bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the value does not open with this key (another key, or altered bytes)")]
pub struct SealError;

impl Key {
    /// A fresh key from the operating system's random generator.
    pub fn generate() -> Result<Key, StoreError> {
        let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
        getrandom::fill(&mut *bytes)
            .map_err(|e| StoreError::Io(format!("the operating system's random generator failed: {e}")))?;
        Ok(Key(bytes))
    }

    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> Key {
        Key(Zeroizing::new(bytes))
    }

    /// The key's bytes (for a key file the operator asked for: `rollout export --keys`).
    pub fn expose(&self) -> &[u8; KEY_BYTES] {
        &self.0
    }

    /// `nonce || ciphertext || tag` of `plaintext`, bound to `context` (authenticated, not
    /// stored): opening with another context fails.
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce)
            .map_err(|e| StoreError::Io(format!("the operating system's random generator failed: {e}")))?;
        let cipher = XChaCha20Poly1305::new((&*self.0).into());
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: context })
            .map_err(|_| StoreError::Invalid("a value too long to encrypt".into()))?;
        let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The plaintext of what [`Key::seal`] made with this key and `context`.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if sealed.len() < NONCE_BYTES + TAG_BYTES {
            return Err(SealError);
        }
        let (nonce, body) = sealed.split_at(NONCE_BYTES);
        let cipher = XChaCha20Poly1305::new((&*self.0).into());
        cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad: context })
            .map(Zeroizing::new)
            .map_err(|_| SealError)
    }

    /// This key sealed under `kek` for `id` (a key file's or table's record).
    pub fn wrap(&self, kek: &Key, id: Uuid) -> Result<[u8; WRAPPED_BYTES], StoreError> {
        let sealed = kek.seal(id.as_bytes(), &self.0[..])?;
        let mut out = [0u8; WRAPPED_BYTES];
        out.copy_from_slice(&sealed);
        Ok(out)
    }

    /// The key [`Key::wrap`] sealed under `kek` for `id`.
    pub fn unwrap_from(kek: &Key, id: Uuid, wrapped: &[u8]) -> Result<Key, SealError> {
        let plain = kek.open(id.as_bytes(), wrapped)?;
        let bytes: [u8; KEY_BYTES] = plain.as_slice().try_into().map_err(|_| SealError)?;
        Ok(Key::from_bytes(bytes))
    }
}

/// Where the keys of personal data live. Every change is durable when the call returns: a key
/// is stored before the event that needs it is appended, and a destroyed key cannot be
/// recovered from the store's files once `destroy` has returned.
#[async_trait::async_trait]
pub trait KeyStore: Send + Sync + std::fmt::Debug {
    /// Creates and durably stores a fresh key for `id`; a key `id` already has is returned.
    async fn create(&self, id: Uuid) -> Result<Key, StoreError>;
    /// The key of `id`, if it exists (not yet created, destroyed, or not imported: `None`).
    async fn get(&self, id: Uuid) -> Result<Option<Key>, StoreError>;
    /// Destroys the keys of `ids` (those without a key are skipped).
    async fn destroy(&self, ids: &[Uuid]) -> Result<(), StoreError>;
    /// Every key held, by id (for `rollout export --keys` and `store copy`).
    async fn all(&self) -> Result<Vec<(Uuid, Key)>, StoreError>;
    /// Stores the given keys (import, copy); an id that has a key keeps it.
    async fn insert(&self, keys: Vec<(Uuid, Key)>) -> Result<(), StoreError>;
}

/// Keys in memory only: for tests and [`crate::MemoryStore`].
#[derive(Debug, Default)]
pub struct MemoryKeys {
    keys: Mutex<HashMap<Uuid, Key>>,
}

impl MemoryKeys {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Key>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl KeyStore for MemoryKeys {
    async fn create(&self, id: Uuid) -> Result<Key, StoreError> {
        let fresh = Key::generate()?;
        Ok(self.map().entry(id).or_insert(fresh).clone())
    }

    async fn get(&self, id: Uuid) -> Result<Option<Key>, StoreError> {
        Ok(self.map().get(&id).cloned())
    }

    async fn destroy(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        let mut map = self.map();
        for id in ids {
            map.remove(id);
        }
        Ok(())
    }

    async fn all(&self) -> Result<Vec<(Uuid, Key)>, StoreError> {
        let mut all: Vec<_> = self.map().iter().map(|(id, k)| (*id, k.clone())).collect();
        all.sort_by_key(|(id, _)| *id);
        Ok(all)
    }

    async fn insert(&self, keys: Vec<(Uuid, Key)>) -> Result<(), StoreError> {
        let mut map = self.map();
        for (id, key) in keys {
            map.entry(id).or_insert(key);
        }
        Ok(())
    }
}

/// The text form of a key file line (`rollout export --keys`): `<uuid> <64 hex digits>`.
pub fn key_line(id: Uuid, key: &Key) -> String {
    let mut line = format!("{id} ");
    for b in key.expose() {
        line.push_str(&format!("{b:02x}"));
    }
    line
}

/// Reads a line of [`key_line`]; the message says what is wrong.
pub fn parse_key_line(line: &str) -> Result<(Uuid, Key), String> {
    let (id, hex) = line.trim().split_once(' ').ok_or("expected `<person id> <key in hex>`")?;
    let id = Uuid::parse_str(id).map_err(|_| format!("`{id}` is not a UUID"))?;
    let hex = hex.trim();
    if hex.len() != KEY_BYTES * 2 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("the key of {id} is not {} hex digits", KEY_BYTES * 2));
    }
    let mut bytes = [0u8; KEY_BYTES];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
    }
    Ok((id, Key::from_bytes(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_context() {
        let key = Key::generate().expect("key");
        let other = Key::generate().expect("key");
        let sealed = key.seal(b"person-a", b"Erika Mustermann").expect("seal");
        assert_eq!(key.open(b"person-a", &sealed).expect("open").as_slice(), b"Erika Mustermann");
        assert_eq!(key.open(b"person-b", &sealed), Err(SealError));
        assert_eq!(other.open(b"person-a", &sealed), Err(SealError));
        let mut altered = sealed.clone();
        altered[30] ^= 1;
        assert_eq!(key.open(b"person-a", &altered), Err(SealError));
        assert_eq!(key.open(b"person-a", &sealed[..10]), Err(SealError));
        assert!(!sealed.windows(5).any(|w| w == b"Erika"), "the plaintext is not in the sealed bytes");
        assert_ne!(key.seal(b"person-a", b"x").expect("seal"), key.seal(b"person-a", b"x").expect("seal"));
    }

    #[test]
    fn a_wrapped_key_unwraps_only_under_its_kek_and_id() {
        let (kek, key, id) = (Key::generate().expect("kek"), Key::generate().expect("key"), Uuid::now_v7());
        let wrapped = key.wrap(&kek, id).expect("wrap");
        assert_eq!(Key::unwrap_from(&kek, id, &wrapped), Ok(key));
        assert!(Key::unwrap_from(&kek, Uuid::now_v7(), &wrapped).is_err());
        assert!(Key::unwrap_from(&Key::generate().expect("kek"), id, &wrapped).is_err());
    }

    #[test]
    fn key_lines_round_trip_and_bad_ones_are_named() {
        let (id, key) = (Uuid::now_v7(), Key::generate().expect("key"));
        assert_eq!(parse_key_line(&key_line(id, &key)), Ok((id, key)));
        assert!(parse_key_line("nonsense").is_err());
        assert!(parse_key_line(&format!("{id} abcd")).expect_err("short").contains("64 hex digits"));
    }

    #[tokio::test]
    async fn memory_keys_create_once_and_destroy() {
        let keys = MemoryKeys::default();
        let id = Uuid::now_v7();
        let first = keys.create(id).await.expect("create");
        assert_eq!(keys.create(id).await.expect("again"), first, "an existing key is kept");
        keys.destroy(&[id]).await.expect("destroy");
        assert_eq!(keys.get(id).await.expect("get"), None);
    }
}
