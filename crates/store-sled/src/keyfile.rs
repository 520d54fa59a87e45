//! The embedded store's key store (`DIR/keys/`), designed so that a destroyed key is gone.
//!
//! - `kek`: two slots of [`SLOT_BYTES`] each holding a key-encryption key (KEK) with its
//!   generation and a CRC-32. The current KEK is in one slot, the other is zeros.
//! - `persons-<generation>`: a header, then one record per person: id, the person's key sealed
//!   under that generation's KEK ([`Key::wrap`]), CRC-32. New keys are appended and synced
//!   before `create` returns.
//!
//! Destroying keys never edits a record: it writes `persons-<g+1>` with the remaining keys
//! sealed under a fresh KEK, syncs it, writes that KEK into the free slot, syncs, overwrites the
//! old slot with zeros in place, syncs, and removes `persons-<g>`. The freed blocks of the old
//! file may keep the destroyed key for a while, but only sealed under the old KEK, whose bytes
//! were overwritten. A crash at any point leaves one usable generation: at open the newest
//! slot whose file exists wins, and what is left of the other generation is removed.
//!
//! What this does not reach (README, "Erasure and backups"): a copy-on-write filesystem
//! (btrfs, ZFS) or an SSD's flash translation layer may keep the old slot's block; backups of
//! the directory keep what they copied.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use store::keys::WRAPPED_BYTES;
use store::{Key, KeyStore, StoreError};
use uuid::Uuid;

use crate::{io_at, sync_dir};

/// Bytes of one KEK slot (a sector: written in one piece by every disk this runs on).
const SLOT_BYTES: u64 = 512;
const SLOT_MAGIC: &[u8; 8] = b"EFAKEK01";
const FILE_MAGIC: &[u8; 8] = b"EFAKEYS1";
const HEADER_BYTES: usize = 16;
const RECORD_BYTES: usize = 16 + WRAPPED_BYTES + 4;

/// The key store of a data directory.
#[derive(Debug)]
pub struct FileKeys {
    dir: PathBuf,
    state: Mutex<State>,
}

struct State {
    generation: u64,
    /// Which slot of `kek` holds the current KEK (0 or 1).
    slot: u64,
    kek: Key,
    file: File,
    keys: HashMap<Uuid, Key>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("generation", &self.generation).field("keys", &self.keys.len()).finish()
    }
}

fn persons_file(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("persons-{generation}"))
}

fn slot_bytes(generation: u64, kek: &Key) -> Vec<u8> {
    let mut slot = Vec::with_capacity(SLOT_BYTES as usize);
    slot.extend_from_slice(SLOT_MAGIC);
    slot.extend_from_slice(&generation.to_be_bytes());
    slot.extend_from_slice(kek.expose());
    let crc = crc32fast::hash(&slot);
    slot.extend_from_slice(&crc.to_be_bytes());
    slot.resize(SLOT_BYTES as usize, 0);
    slot
}

fn parse_slot(bytes: &[u8]) -> Option<(u64, Key)> {
    let body = bytes.get(..48)?;
    let crc = u32::from_be_bytes(bytes.get(48..52)?.try_into().ok()?);
    if &body[..8] != SLOT_MAGIC || crc32fast::hash(body) != crc {
        return None;
    }
    let generation = u64::from_be_bytes(body[8..16].try_into().ok()?);
    let kek: [u8; 32] = body[16..48].try_into().ok()?;
    Some((generation, Key::from_bytes(kek)))
}

fn record_bytes(id: Uuid, key: &Key, kek: &Key) -> Result<Vec<u8>, StoreError> {
    let mut record = Vec::with_capacity(RECORD_BYTES);
    record.extend_from_slice(id.as_bytes());
    record.extend_from_slice(&key.wrap(kek, id)?);
    let crc = crc32fast::hash(&record);
    record.extend_from_slice(&crc.to_be_bytes());
    Ok(record)
}

fn header(generation: u64) -> Vec<u8> {
    let mut h = FILE_MAGIC.to_vec();
    h.extend_from_slice(&generation.to_be_bytes());
    h
}

fn corrupt(path: &Path, why: String) -> StoreError {
    StoreError::Io(format!("the key file {} is damaged: {why}", path.display()))
}

/// Reads a persons file of `generation` under `kek`. A last record cut short or not matching
/// its checksum (a crash while appending it; its event was never appended) is cut off.
fn read_persons(path: &Path, generation: u64, kek: &Key) -> Result<(File, HashMap<Uuid, Key>), StoreError> {
    let mut file = File::options().read(true).write(true).open(path).map_err(|e| io_at(path, e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(|e| io_at(path, e))?;
    if bytes.len() < HEADER_BYTES || bytes[..HEADER_BYTES] != header(generation)[..] {
        return Err(corrupt(path, format!("it is not the key file of generation {generation}")));
    }
    let mut keys = HashMap::new();
    let body = &bytes[HEADER_BYTES..];
    let whole = body.len() / RECORD_BYTES;
    let mut good = whole;
    for (i, record) in body.chunks_exact(RECORD_BYTES).enumerate() {
        let (content, crc) = record.split_at(RECORD_BYTES - 4);
        let checks = crc32fast::hash(content) == u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
        if !checks {
            if i + 1 == whole {
                good = i;
                break;
            }
            return Err(corrupt(path, format!("record {} does not match its checksum", i + 1)));
        }
        let id = Uuid::from_slice(&content[..16]).map_err(|e| corrupt(path, e.to_string()))?;
        let key = Key::unwrap_from(kek, id, &content[16..])
            .map_err(|_| corrupt(path, format!("the key of {id} does not open under its KEK")))?;
        keys.insert(id, key);
    }
    let end = (HEADER_BYTES + good * RECORD_BYTES) as u64;
    if end != bytes.len() as u64 {
        tracing::warn!(file = %path.display(), cut = bytes.len() as u64 - end, "cut an unfinished key record");
        file.set_len(end).map_err(|e| io_at(path, e))?;
        file.sync_data().map_err(|e| io_at(path, e))?;
    }
    file.seek(SeekFrom::End(0)).map_err(|e| io_at(path, e))?;
    Ok((file, keys))
}

/// Writes a new persons file of `generation` with `keys` sealed under `kek`, synced, in place.
fn write_persons(
    dir: &Path,
    generation: u64,
    kek: &Key,
    keys: &HashMap<Uuid, Key>,
) -> Result<File, StoreError> {
    let path = persons_file(dir, generation);
    let temporary = dir.join(format!("persons-{generation}.tmp"));
    let mut bytes = header(generation);
    for (id, key) in keys {
        bytes.extend_from_slice(&record_bytes(*id, key, kek)?);
    }
    let mut file = File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(|e| io_at(&temporary, e))?;
    file.write_all(&bytes).map_err(|e| io_at(&temporary, e))?;
    file.sync_all().map_err(|e| io_at(&temporary, e))?;
    std::fs::rename(&temporary, &path).map_err(|e| io_at(&path, e))?;
    sync_dir(dir)?;
    let mut file = File::options().read(true).write(true).open(&path).map_err(|e| io_at(&path, e))?;
    file.seek(SeekFrom::End(0)).map_err(|e| io_at(&path, e))?;
    Ok(file)
}

/// Makes `path` readable by its owner only (`mode`: 0600 for a file, 0700 for a directory),
/// saying so when it was not: keys readable by others are keys others may have copied.
fn private(path: &Path, mode: u32) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let now = std::fs::metadata(path).map_err(|e| io_at(path, e))?.permissions().mode() & 0o777;
    if now & 0o077 != 0 {
        tracing::warn!(path = %path.display(), mode = format!("{now:o}"), "key material was readable by others; made private (0{mode:o})");
    }
    if now != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| io_at(path, e))?;
    }
    Ok(())
}

fn write_slot(kek_file: &File, path: &Path, slot: u64, bytes: &[u8]) -> Result<(), StoreError> {
    kek_file.write_all_at(bytes, slot * SLOT_BYTES).map_err(|e| io_at(path, e))?;
    kek_file.sync_data().map_err(|e| io_at(path, e))
}

impl FileKeys {
    /// Opens (or creates) the key store in `dir`, finishing an erasure a crash interrupted.
    pub fn open(dir: &Path) -> Result<FileKeys, StoreError> {
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| io_at(dir, e))?;
        }
        private(dir, 0o700)?;
        let kek_path = dir.join("kek");
        let kek_file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&kek_path)
            .map_err(|e| io_at(&kek_path, e))?;
        for entry in std::fs::read_dir(dir).map_err(|e| io_at(dir, e))? {
            let path = entry.map_err(|e| io_at(dir, e))?.path();
            private(&path, 0o600)?;
        }
        let mut slots = vec![0u8; 2 * SLOT_BYTES as usize];
        let read = kek_file.read_at(&mut slots, 0).map_err(|e| io_at(&kek_path, e))?;
        slots.truncate(read);
        let mut found: Vec<(u64, u64, Key)> = (0..2u64)
            .filter_map(|slot| {
                let start = (slot * SLOT_BYTES) as usize;
                parse_slot(slots.get(start..)?).map(|(g, k)| (slot, g, k))
            })
            .collect();
        found.sort_by_key(|(_, generation, _)| std::cmp::Reverse(*generation));
        let chosen = found.iter().find(|(_, g, _)| persons_file(dir, *g).exists()).cloned();
        let state = match chosen {
            Some((slot, generation, kek)) => {
                let (file, keys) = read_persons(&persons_file(dir, generation), generation, &kek)?;
                State { generation, slot, kek, file, keys }
            }
            None if found.is_empty() => {
                let kek = Key::generate()?;
                let file = write_persons(dir, 1, &kek, &HashMap::new())?;
                write_slot(&kek_file, &kek_path, 0, &slot_bytes(1, &kek))?;
                write_slot(&kek_file, &kek_path, 1, &[0; SLOT_BYTES as usize])?;
                sync_dir(dir)?;
                State { generation: 1, slot: 0, kek, file, keys: HashMap::new() }
            }
            None => {
                return Err(corrupt(
                    &kek_path,
                    "no key file of its key-encryption keys' generations exists".into(),
                ))
            }
        };
        // What an interrupted erasure left: the other slot, other generations' files.
        let other = 1 - state.slot;
        if found.iter().any(|(slot, _, _)| *slot == other) {
            write_slot(&kek_file, &kek_path, other, &[0; SLOT_BYTES as usize])?;
        }
        for entry in std::fs::read_dir(dir).map_err(|e| io_at(dir, e))? {
            let entry = entry.map_err(|e| io_at(dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("persons-") && name != format!("persons-{}", state.generation) {
                std::fs::remove_file(entry.path()).map_err(|e| io_at(&entry.path(), e))?;
            }
        }
        sync_dir(dir)?;
        Ok(FileKeys { dir: dir.to_path_buf(), state: Mutex::new(state) })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn append(&self, state: &mut State, new: &[(Uuid, Key)]) -> Result<(), StoreError> {
        let path = persons_file(&self.dir, state.generation);
        let mut bytes = Vec::with_capacity(new.len() * RECORD_BYTES);
        for (id, key) in new {
            bytes.extend_from_slice(&record_bytes(*id, key, &state.kek)?);
        }
        state.file.write_all(&bytes).map_err(|e| io_at(&path, e))?;
        state.file.sync_data().map_err(|e| io_at(&path, e))?;
        for (id, key) in new {
            state.keys.insert(*id, key.clone());
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl KeyStore for FileKeys {
    async fn create(&self, id: Uuid) -> Result<Key, StoreError> {
        let mut state = self.state();
        if let Some(key) = state.keys.get(&id) {
            return Ok(key.clone());
        }
        let key = Key::generate()?;
        self.append(&mut state, &[(id, key.clone())])?;
        Ok(key)
    }

    async fn get(&self, id: Uuid) -> Result<Option<Key>, StoreError> {
        Ok(self.state().keys.get(&id).cloned())
    }

    async fn destroy(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        let mut state = self.state();
        if !ids.iter().any(|id| state.keys.contains_key(id)) {
            return Ok(());
        }
        let mut remaining = state.keys.clone();
        for id in ids {
            remaining.remove(id);
        }
        let generation = state.generation + 1;
        let kek = Key::generate()?;
        let file = write_persons(&self.dir, generation, &kek, &remaining)?;
        let kek_path = self.dir.join("kek");
        let kek_file = File::options().write(true).open(&kek_path).map_err(|e| io_at(&kek_path, e))?;
        let slot = 1 - state.slot;
        write_slot(&kek_file, &kek_path, slot, &slot_bytes(generation, &kek))?;
        write_slot(&kek_file, &kek_path, state.slot, &[0; SLOT_BYTES as usize])?;
        let old = persons_file(&self.dir, state.generation);
        std::fs::remove_file(&old).map_err(|e| io_at(&old, e))?;
        sync_dir(&self.dir)?;
        *state = State { generation, slot, kek, file, keys: remaining };
        Ok(())
    }

    async fn all(&self) -> Result<Vec<(Uuid, Key)>, StoreError> {
        let mut all: Vec<_> = self.state().keys.iter().map(|(id, k)| (*id, k.clone())).collect();
        all.sort_by_key(|(id, _)| *id);
        Ok(all)
    }

    async fn insert(&self, keys: Vec<(Uuid, Key)>) -> Result<(), StoreError> {
        let mut state = self.state();
        let new: Vec<_> = keys.into_iter().filter(|(id, _)| !state.keys.contains_key(id)).collect();
        if new.is_empty() {
            return Ok(());
        }
        self.append(&mut state, &new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(f)
    }

    fn files(dir: &Path) -> Vec<u8> {
        let mut all = Vec::new();
        for entry in std::fs::read_dir(dir).expect("dir") {
            all.extend(std::fs::read(entry.expect("entry").path()).expect("file"));
        }
        all
    }

    #[test]
    fn key_files_are_private_and_made_private_again_at_open() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        let tmp = tempfile::tempdir().expect("dir");
        let dir = tmp.path().join("keys");
        let keys = FileKeys::open(&dir).expect("open");
        block_on(keys.create(Uuid::now_v7())).expect("a key");
        drop(keys);
        assert_eq!(mode(&dir), 0o700);
        for name in ["kek", "persons-1"] {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
        // Opened up by hand (a copy, a careless chmod): private again at the next open.
        for (path, open) in [(dir.clone(), 0o755), (dir.join("kek"), 0o644), (dir.join("persons-1"), 0o666)] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(open)).expect("chmod");
        }
        FileKeys::open(&dir).expect("reopen");
        assert_eq!((mode(&dir), mode(&dir.join("kek")), mode(&dir.join("persons-1"))), (0o700, 0o600, 0o600));
    }

    #[test]
    fn keys_survive_reopening_and_a_destroyed_key_is_gone_from_every_file() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let (key_a, key_b) = block_on(async {
            let keys = FileKeys::open(tmp.path()).expect("open");
            (keys.create(a).await.expect("a"), keys.create(b).await.expect("b"))
        });
        let old_kek = {
            let keys = FileKeys::open(tmp.path()).expect("reopen");
            assert_eq!(block_on(keys.get(a)).expect("get"), Some(key_a.clone()));
            let kek = keys.state().kek.clone();
            block_on(keys.destroy(&[a])).expect("destroy");
            kek
        };
        let keys = FileKeys::open(tmp.path()).expect("reopen after erasure");
        assert_eq!(block_on(keys.get(a)).expect("get"), None);
        assert_eq!(block_on(keys.get(b)).expect("get"), Some(key_b));
        let bytes = files(tmp.path());
        let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        assert!(!has(key_a.expose()), "the destroyed key is not in any file");
        assert!(!has(old_kek.expose()), "the KEK it was sealed under is overwritten");
        assert!(!has(a.as_bytes()), "not even its record is left");
    }

    #[test]
    fn an_erasure_cut_short_finishes_at_the_next_open() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let keys = FileKeys::open(tmp.path()).expect("open");
        let key_b = block_on(async {
            keys.create(a).await.expect("a");
            keys.create(b).await.expect("b")
        });
        // As if the process died after the new generation's file and its slot were written,
        // before the old slot was zeroed and the old file removed.
        let (generation, kek) = (2, Key::generate().expect("kek"));
        let mut remaining = HashMap::new();
        remaining.insert(b, key_b.clone());
        write_persons(tmp.path(), generation, &kek, &remaining).expect("new file");
        let kek_path = tmp.path().join("kek");
        let kek_file = File::options().write(true).open(&kek_path).expect("kek");
        write_slot(&kek_file, &kek_path, 1, &slot_bytes(generation, &kek)).expect("slot");
        drop(keys);
        let keys = FileKeys::open(tmp.path()).expect("reopen");
        assert_eq!(block_on(keys.get(a)).expect("get"), None, "the erasure took effect");
        assert_eq!(block_on(keys.get(b)).expect("get"), Some(key_b));
        assert!(!persons_file(tmp.path(), 1).exists());
        // And a crash before the new slot was written keeps the old generation, whole.
        let tmp = tempfile::tempdir().expect("tmp");
        let keys = FileKeys::open(tmp.path()).expect("open");
        let key_a = block_on(keys.create(a)).expect("a");
        write_persons(tmp.path(), 2, &Key::generate().expect("kek"), &HashMap::new()).expect("new file");
        drop(keys);
        let keys = FileKeys::open(tmp.path()).expect("reopen");
        assert_eq!(block_on(keys.get(a)).expect("get"), Some(key_a));
        assert!(!persons_file(tmp.path(), 2).exists(), "the unfinished generation is removed");
    }

    #[test]
    fn a_record_cut_short_is_dropped_and_a_damaged_one_is_reported() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let key_a = block_on(async {
            let keys = FileKeys::open(tmp.path()).expect("open");
            let key_a = keys.create(a).await.expect("a");
            keys.create(b).await.expect("b");
            key_a
        });
        let path = persons_file(tmp.path(), 1);
        let len = std::fs::metadata(&path).expect("meta").len();
        File::options().write(true).open(&path).expect("file").set_len(len - 10).expect("cut");
        let keys = FileKeys::open(tmp.path()).expect("reopen");
        assert_eq!(block_on(keys.get(a)).expect("get"), Some(key_a));
        assert_eq!(block_on(keys.get(b)).expect("get"), None, "its event was never acknowledged");
        drop(keys);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[HEADER_BYTES + 20] ^= 1;
        bytes.extend_from_slice(&[0; RECORD_BYTES]);
        std::fs::write(&path, bytes).expect("write");
        let err = FileKeys::open(tmp.path()).expect_err("damaged");
        assert!(err.to_string().contains("record 1 does not match its checksum"), "{err}");
    }
}
