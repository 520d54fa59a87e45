//! The log itself: every event, in position order, in append-only segment files.
//!
//! `DIR/segments/<first position, 20 digits>.seg` holds frames (`length:u32 BE`, then the event
//! as `store::encode` writes it), one after the other from the segment's first position on. The
//! last segment is open: the writer appends each group commit to it with one `write` and one
//! `fdatasync`. Once it holds [`SEGMENT_BYTES_DEFAULT`] (or the configured size), it is closed:
//! its offset index `<first>.idx` (where each frame begins, as `u32 BE`, then where the last one
//! ends) is written and synced, and the next segment begun. Closed segments never change.
//!
//! Reads find the segment by its first position (a list in memory, one entry per segment) and
//! the frame by the offset index: two `pread`s for one event, one for each of index and data
//! for a run of events. The open segment's offsets are kept in memory (at most one segment's
//! worth).
//!
//! On open, the closed segments' indexes are checked against their files and rebuilt if a crash
//! interrupted closing; the open segment is read whole: every frame must decode, carry its own
//! hash and continue the chain. An invalid frame at its end is a torn write (a crash inside a
//! group commit, never acknowledged) and is cut off — unless the index in sled says that event
//! was stored, which makes it damage: the open stops and says where.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use store::{EventHash, Head, RecordedEvent, StoreError};

/// A segment is closed once it holds this many bytes (the last group may go beyond).
pub const SEGMENT_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;
/// The largest segment size that can be configured: offsets within a segment are `u32`, and the
/// last group (at most `GROUP_BYTES_MAX`, 16 MiB) may go beyond the size.
pub const SEGMENT_BYTES_MAX: u64 = 1 << 30;
/// Closed segments kept open for reading at most (their file handles).
const OPEN_HANDLES_MAX: usize = 64;

const SEGMENT_EXT: &str = "seg";
const INDEX_EXT: &str = "idx";

/// The segment files, shared by the writer and every reader.
#[derive(Debug)]
pub(crate) struct Log {
    dir: PathBuf,
    state: RwLock<State>,
    /// Closed segments open for reading, most recently used last.
    handles: Mutex<Vec<Handle>>,
}

#[derive(Debug)]
struct State {
    /// The closed segments, in order.
    closed: Vec<Closed>,
    open_first: u64,
    /// Where each frame of the open segment begins, then where the last one ends.
    open_offsets: Vec<u32>,
    open_file: Arc<File>,
}

#[derive(Debug, Clone, Copy)]
struct Closed {
    first: u64,
    /// Events it holds.
    count: u64,
    /// Bytes of its file: no offset read from its index may point beyond.
    bytes: u64,
}

#[derive(Debug, Clone)]
struct Handle {
    first: u64,
    data: Arc<File>,
    index: Arc<File>,
}

/// Events `..=last` of the segment that begins at `first`.
struct Run {
    first: u64,
    last: u64,
    source: Source,
}

enum Source {
    /// The open segment: its file and the offsets of the run (frame starts, then the end).
    Open { file: Arc<File>, offsets: Vec<u32> },
    /// A closed segment of this many bytes: offsets come from its index file.
    Closed { bytes: u64 },
}

/// The writer's end: appends to the open segment and closes it when full.
pub(crate) struct Appender {
    pub(crate) log: Arc<Log>,
    file: File,
    /// Bytes of the open segment that hold acknowledged (written and synced) events.
    bytes: u64,
    segment_bytes: u64,
    last_position: u64,
    frames: Vec<u8>,
    offsets: Vec<u32>,
    pub(crate) faults: Option<Arc<crate::Faults>>,
}

fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.{SEGMENT_EXT}"))
}

fn index_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.{INDEX_EXT}"))
}

/// The first positions of the segment files in `dir`, in order.
fn segment_firsts(dir: &Path) -> Result<Vec<u64>, StoreError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_at(dir, e))? {
        let path = entry.map_err(|e| io_at(dir, e))?.path();
        if path.extension().is_some_and(|x| x == SEGMENT_EXT) {
            let first = path.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse::<u64>().ok());
            match first {
                Some(first) if first > 0 => out.push(first),
                _ => {
                    return Err(StoreError::Io(format!(
                        "{} is not a segment of the log (its name must be its first position)",
                        path.display()
                    )))
                }
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// What walking a segment's frames found.
struct Scan {
    /// Where each valid frame begins, then where the last valid one ends.
    offsets: Vec<u32>,
    /// The last valid event, if any.
    last: Option<Head>,
    /// The first frame that is not valid: its byte offset, and why.
    damage: Option<(u32, Damage)>,
}

enum Damage {
    /// Incomplete, undecodable, or its content does not match its hash: what a crash in the
    /// middle of a write leaves.
    Torn(String),
    /// A whole, valid event that does not continue the chain (or not at this position).
    Chain(String),
}

impl Damage {
    fn reason(&self) -> &str {
        match self {
            Damage::Torn(r) | Damage::Chain(r) => r,
        }
    }
}

/// Walks the frames in `bytes`, which begin at position `first`; the first must link to `prev`
/// (when known).
fn scan(bytes: &[u8], first: u64, mut prev: Option<EventHash>) -> Scan {
    let mut offsets = vec![0u32];
    let mut at = 0usize;
    let mut last = None;
    let mut position = first;
    while at < bytes.len() {
        let damage = match frame(&bytes[at..]) {
            Err(reason) => Some(Damage::Torn(reason)),
            Ok((event, _)) if event.position != position => Some(Damage::Chain(format!(
                "it holds event {} where event {position} belongs",
                event.position
            ))),
            Ok((event, _)) if prev.is_some_and(|p| p != event.prev_hash) => {
                Some(Damage::Chain(format!("event {position} does not continue the chain")))
            }
            Ok((event, len)) => {
                at += len;
                offsets.push(at as u32);
                prev = Some(event.hash);
                last = Some(Head::after(&event));
                position += 1;
                None
            }
        };
        if let Some(damage) = damage {
            return Scan { offsets, last, damage: Some((at as u32, damage)) };
        }
    }
    Scan { offsets, last, damage: None }
}

/// One frame at the start of `bytes`: the event and the frame's length, if it is whole and
/// valid.
pub(crate) fn frame(bytes: &[u8]) -> Result<(RecordedEvent, usize), String> {
    let len = bytes.get(..4).ok_or("a frame's length is cut off")?;
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let record = bytes.get(4..4 + len).ok_or_else(|| format!("a frame of {len} bytes is cut off"))?;
    let event = store::decode(record)?;
    if store::event_hash(&event) != event.hash {
        return Err(format!("event {} does not match its hash", event.position));
    }
    Ok((event, 4 + len))
}

/// Decodes the frame `bytes` (its length prefix included), which must hold event `position`.
fn decode_frame(position: u64, bytes: &[u8]) -> Result<RecordedEvent, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { position, reason };
    let (len, record) = bytes.split_at_checked(4).ok_or_else(|| corrupt("the frame is cut off".into()))?;
    if u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize != record.len() {
        return Err(corrupt("the frame's length does not match the segment index".into()));
    }
    let event = store::decode(record).map_err(corrupt)?;
    if event.position != position {
        return Err(corrupt(format!("the log holds event {} at its place", event.position)));
    }
    Ok(event)
}

fn read_at(file: &File, offset: u64, len: usize, path: &impl Fn() -> PathBuf) -> Result<Vec<u8>, StoreError> {
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset).map_err(|e| io_at(&path(), e))?;
    Ok(buf)
}

/// Reads the frames between `offsets` (the first beginning at `position`) from `file`, which
/// holds `file_bytes`, into `out`. Offsets from a damaged index are an error, never a panic or
/// an outsized read.
fn decode_run(
    file: &File,
    offsets: &[u32],
    file_bytes: u64,
    position: u64,
    out: &mut Vec<RecordedEvent>,
    path: impl Fn() -> PathBuf,
) -> Result<(), StoreError> {
    let damaged = |k: usize| StoreError::Corrupt {
        position: position + k as u64,
        reason: format!("the offset index of {} is damaged", path().display()),
    };
    let (start, end) = (offsets[0], offsets[offsets.len() - 1]);
    if end < start || u64::from(end) > file_bytes {
        return Err(damaged(0));
    }
    let bytes = read_at(file, u64::from(start), (end - start) as usize, &path)?;
    for (k, pair) in offsets.windows(2).enumerate() {
        let frame = pair[0].wrapping_sub(start) as usize..pair[1].wrapping_sub(start) as usize;
        let frame = bytes.get(frame).ok_or_else(|| damaged(k))?;
        out.push(decode_frame(position + k as u64, frame)?);
    }
    Ok(())
}

fn decode_offsets(bytes: &[u8]) -> Vec<u32> {
    bytes.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn write_index(path: &Path, offsets: &[u32]) -> Result<(), StoreError> {
    let bytes: Vec<u8> = offsets.iter().flat_map(|o| o.to_be_bytes()).collect();
    let mut file = File::create(path).map_err(|e| io_at(path, e))?;
    file.write_all(&bytes).map_err(|e| io_at(path, e))?;
    file.sync_data().map_err(|e| io_at(path, e))
}

/// The segments of `dir` (the first made when there is none): the open one's first position,
/// and the closed ones, each checked against its index.
fn closed_segments(dir: &Path) -> Result<(u64, Vec<Closed>), StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| io_at(dir, e))?;
    let mut firsts = segment_firsts(dir)?;
    if firsts.is_empty() {
        File::create(segment_path(dir, 1)).map_err(|e| io_at(&segment_path(dir, 1), e))?;
        crate::sync_dir(dir)?;
        firsts.push(1);
    }
    if firsts[0] != 1 {
        return Err(StoreError::Io(format!(
            "the log in {} begins with a segment at position {}, not 1: segments are missing",
            dir.display(),
            firsts[0]
        )));
    }
    let (&open_first, closed_firsts) = firsts.split_last().unwrap_or((&1, &[]));
    let mut closed = Vec::with_capacity(closed_firsts.len());
    for (k, &first) in closed_firsts.iter().enumerate() {
        let next = firsts[k + 1];
        if next <= first {
            return Err(StoreError::Io(format!("segments in {} overlap at {first}", dir.display())));
        }
        let bytes = check_index(dir, first, next - first)?;
        closed.push(Closed { first, count: next - first, bytes });
    }
    Ok((open_first, closed))
}

/// Cuts a torn write (an invalid frame after what sled's index holds, never acknowledged) off
/// the open segment; the new end. An invalid frame the index covers is damage: refused.
fn cut_torn_write(
    open_path: &Path,
    at: u32,
    damage: &Damage,
    position: u64,
    indexed: u64,
) -> Result<u64, StoreError> {
    let torn = matches!(damage, Damage::Torn(_)) && position > indexed;
    if !torn {
        return Err(StoreError::Io(format!(
            "the log is damaged: {} at byte {at} (event {position}): {}",
            open_path.display(),
            damage.reason()
        )));
    }
    tracing::warn!(file = %open_path.display(), offset = at, "cut off a torn write at the end of the log");
    let file = File::options().write(true).open(open_path).map_err(|e| io_at(open_path, e))?;
    file.set_len(u64::from(at)).map_err(|e| io_at(open_path, e))?;
    file.sync_all().map_err(|e| io_at(open_path, e))?;
    Ok(u64::from(at))
}

impl Log {
    /// Opens the segments in `dir` (created if missing) and returns the log, its writer's end
    /// and the head. `indexed` is the last position sled's index holds durably: an invalid
    /// frame at or before it is damage, not a torn write.
    pub(crate) fn open(
        dir: &Path,
        segment_bytes: u64,
        indexed: u64,
    ) -> Result<(Arc<Log>, Appender, Head), StoreError> {
        let (open_first, closed) = closed_segments(dir)?;
        // An index beside the open segment is left from a crash while closing it.
        let stale = index_path(dir, open_first);
        if stale.exists() {
            std::fs::remove_file(&stale).map_err(|e| io_at(&stale, e))?;
        }
        let open_path = segment_path(dir, open_first);
        let bytes = std::fs::read(&open_path).map_err(|e| io_at(&open_path, e))?;
        let log = Arc::new(Log {
            dir: dir.to_owned(),
            state: RwLock::new(State {
                closed,
                open_first,
                open_offsets: vec![0],
                open_file: Arc::new(File::open(&open_path).map_err(|e| io_at(&open_path, e))?),
            }),
            handles: Mutex::new(Vec::new()),
        });
        let link = match open_first {
            1 => Some(Head::EMPTY),
            first => log.read_range(first - 1, first - 1)?.first().map(Head::after),
        };
        let scan = scan(&bytes, open_first, link.map(|h| h.hash));
        let mut end = bytes.len() as u64;
        if let Some((at, damage)) = &scan.damage {
            end =
                cut_torn_write(&open_path, *at, damage, open_first + scan.offsets.len() as u64 - 1, indexed)?;
        }
        let head = scan.last.or(link).unwrap_or(Head::EMPTY);
        if indexed > head.position {
            return Err(StoreError::Io(format!(
                "the log in {} ends at event {} but its index records event {indexed}: events are missing",
                dir.display(),
                head.position
            )));
        }
        let offsets = scan.offsets;
        log.write_state().open_offsets.clone_from(&offsets);
        let file = File::options().append(true).open(&open_path).map_err(|e| io_at(&open_path, e))?;
        let appender = Appender {
            log: log.clone(),
            file,
            bytes: end,
            segment_bytes,
            last_position: head.position,
            frames: Vec::new(),
            offsets: Vec::new(),
            faults: None,
        };
        Ok((log, appender, head))
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The events `from..=to` (all stored: the caller keeps `to` within the durable head).
    pub(crate) fn read_range(&self, from: u64, to: u64) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut out = Vec::with_capacity(to.saturating_sub(from).saturating_add(1).min(1 << 16) as usize);
        let mut position = from;
        while position <= to {
            let run = self.locate(position, to)?;
            match run.source {
                Source::Open { file, offsets } => {
                    decode_run(&file, &offsets, u64::MAX, position, &mut out, || {
                        segment_path(&self.dir, run.first)
                    })?;
                }
                Source::Closed { bytes } => {
                    let handle = self.handle(run.first)?;
                    let i = position - run.first;
                    let len = (run.last - position + 2) as usize * 4;
                    let index = read_at(&handle.index, i * 4, len, &|| index_path(&self.dir, run.first))?;
                    decode_run(&handle.data, &decode_offsets(&index), bytes, position, &mut out, || {
                        segment_path(&self.dir, run.first)
                    })?;
                }
            }
            position = run.last + 1;
        }
        Ok(out)
    }

    /// The run of events from `position` up to `to` that lie in one segment.
    fn locate(&self, position: u64, to: u64) -> Result<Run, StoreError> {
        let state = self.read_state();
        let missing = || StoreError::Corrupt { position, reason: "the log has no such event".into() };
        if position >= state.open_first {
            let count = state.open_offsets.len() as u64 - 1;
            let i = position - state.open_first;
            if i >= count {
                return Err(missing());
            }
            let last = to.min(state.open_first + count - 1);
            let j = last - state.open_first;
            // Only the offsets this run needs: the open segment may hold a hundred thousand.
            let offsets = state.open_offsets[i as usize..=j as usize + 1].to_vec();
            let source = Source::Open { file: state.open_file.clone(), offsets };
            return Ok(Run { first: state.open_first, last, source });
        }
        let k = state.closed.partition_point(|c| c.first <= position);
        let c = *state.closed.get(k.wrapping_sub(1)).ok_or_else(missing)?;
        Ok(Run {
            first: c.first,
            last: to.min(c.first + c.count - 1),
            source: Source::Closed { bytes: c.bytes },
        })
    }

    /// The open files of a closed segment (opened now if not among the recently used).
    fn handle(&self, first: u64) -> Result<Handle, StoreError> {
        let mut handles = self.handles.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = handles.iter().position(|h| h.first == first) {
            let handle = handles.remove(k);
            handles.push(handle.clone());
            return Ok(handle);
        }
        let (data, index) = (segment_path(&self.dir, first), index_path(&self.dir, first));
        let handle = Handle {
            first,
            data: Arc::new(File::open(&data).map_err(|e| io_at(&data, e))?),
            index: Arc::new(File::open(&index).map_err(|e| io_at(&index, e))?),
        };
        if handles.len() == OPEN_HANDLES_MAX {
            handles.remove(0);
        }
        handles.push(handle.clone());
        Ok(handle)
    }

    /// Bytes the segment files take.
    pub(crate) fn bytes(&self) -> Result<u64, StoreError> {
        let mut total = 0;
        for entry in std::fs::read_dir(&self.dir).map_err(|e| io_at(&self.dir, e))? {
            let entry = entry.map_err(|e| io_at(&self.dir, e))?;
            total += entry.metadata().map_err(|e| io_at(&entry.path(), e))?.len();
        }
        Ok(total)
    }
}

/// Checks a closed segment's offset index against its file; rebuilds it when a crash cut it
/// short. `count` is the number of events the segment must hold (up to the next segment).
/// Returns the bytes of the segment's file.
fn check_index(dir: &Path, first: u64, count: u64) -> Result<u64, StoreError> {
    let (data, index) = (segment_path(dir, first), index_path(dir, first));
    let data_len = std::fs::metadata(&data).map_err(|e| io_at(&data, e))?.len();
    // Its length and last entry only: reading every index whole would make opening a large log
    // slow.
    let index_ok = match File::open(&index) {
        Ok(file) => {
            let len = file.metadata().map_err(|e| io_at(&index, e))?.len();
            let mut last = [0u8; 4];
            len == (count + 1) * 4
                && file.read_exact_at(&mut last, len - 4).is_ok()
                && u64::from(u32::from_be_bytes(last)) == data_len
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(io_at(&index, e)),
    };
    if index_ok {
        return Ok(data_len);
    }
    let bytes = std::fs::read(&data).map_err(|e| io_at(&data, e))?;
    let scan = scan(&bytes, first, None);
    let found = scan.offsets.len() as u64 - 1;
    if let Some((at, damage)) = scan.damage {
        return Err(StoreError::Io(format!(
            "the log is damaged: {} at byte {at} (event {}): {}",
            data.display(),
            first + found,
            damage.reason()
        )));
    }
    if found != count {
        return Err(StoreError::Io(format!(
            "the log is damaged: {} holds {found} events, but the next segment begins at event {}",
            data.display(),
            first + count
        )));
    }
    tracing::warn!(file = %index.display(), "rebuilt the offset index of a segment (a crash interrupted closing it)");
    write_index(&index, &scan.offsets)?;
    crate::sync_dir(dir)?;
    Ok(data_len)
}

impl Appender {
    /// Writes the events (which continue the log) and returns once they are on stable storage
    /// and readable.
    pub(crate) fn write(&mut self, events: &[RecordedEvent]) -> Result<(), StoreError> {
        self.frames.clear();
        self.offsets.clear();
        for e in events {
            let record = store::encode(e);
            self.frames.extend_from_slice(&(record.len() as u32).to_be_bytes());
            self.frames.extend_from_slice(&record);
            self.offsets.push((self.bytes + self.frames.len() as u64) as u32);
        }
        if self.bytes + self.frames.len() as u64 > u64::from(u32::MAX) {
            return Err(StoreError::Io("the open segment would exceed 4 GiB".into()));
        }
        if let Some(faults) = &self.faults {
            faults.before_write()?;
        }
        self.file.write_all(&self.frames)?;
        if let Some(faults) = &self.faults {
            faults.before_sync()?;
        }
        self.file.sync_data()?;
        self.bytes += self.frames.len() as u64;
        if let Some(last) = events.last() {
            self.last_position = last.position;
        }
        self.log.write_state().open_offsets.extend_from_slice(&self.offsets);
        Ok(())
    }

    /// After a failed write or sync: what the open segment holds beyond the acknowledged events
    /// is cut off, through a new file descriptor (after a failed `fdatasync` the old one may
    /// report success for pages the kernel already dropped), synced, and read back from the
    /// disk: its frames must be exactly the acknowledged ones, ending at `head`. Only then are
    /// the new descriptors used for writing and reading.
    pub(crate) fn recover(&mut self, head: Head) -> Result<(), StoreError> {
        let dir = self.log.dir.clone();
        let (first, expected_frames) = {
            let state = self.log.read_state();
            (state.open_first, state.open_offsets.len() - 1)
        };
        let path = segment_path(&dir, first);
        let file = File::options().read(true).write(true).open(&path).map_err(|e| io_at(&path, e))?;
        file.set_len(self.bytes).map_err(|e| io_at(&path, e))?;
        file.sync_all().map_err(|e| io_at(&path, e))?;
        drop(file);
        let bytes = std::fs::read(&path).map_err(|e| io_at(&path, e))?;
        let found = scan(&bytes, first, None);
        let last = found.last.map_or(first - 1, |h| h.position);
        let hash_ok = found.last.map_or(first == 1 || head.position == first - 1, |h| h.hash == head.hash);
        if found.damage.is_some()
            || found.offsets.len() - 1 != expected_frames
            || last != head.position
            || !hash_ok
            || bytes.len() as u64 != self.bytes
        {
            return Err(StoreError::Io(format!(
                "{} does not hold exactly the acknowledged events after the failed write",
                path.display()
            )));
        }
        let writer = File::options().append(true).open(&path).map_err(|e| io_at(&path, e))?;
        let reader = File::open(&path).map_err(|e| io_at(&path, e))?;
        crate::sync_dir(&dir)?;
        self.file = writer;
        self.log.write_state().open_file = Arc::new(reader);
        self.maintain()
    }

    /// Called between groups: closes the open segment once it is full and begins the next.
    pub(crate) fn maintain(&mut self) -> Result<(), StoreError> {
        if self.bytes < self.segment_bytes {
            return Ok(());
        }
        let dir = &self.log.dir;
        let (first, offsets) = {
            let state = self.log.read_state();
            (state.open_first, state.open_offsets.clone())
        };
        write_index(&index_path(dir, first), &offsets)?;
        let next = self.last_position + 1;
        let path = segment_path(dir, next);
        let file = File::options().create(true).append(true).open(&path).map_err(|e| io_at(&path, e))?;
        let reader = File::open(&path).map_err(|e| io_at(&path, e))?;
        crate::sync_dir(dir)?;
        {
            let mut state = self.log.write_state();
            state.closed.push(Closed { first, count: next - first, bytes: self.bytes });
            state.open_first = next;
            state.open_offsets = vec![0];
            state.open_file = Arc::new(reader);
        }
        self.file = file;
        self.bytes = 0;
        Ok(())
    }
}

fn io_at(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{}: {e}", path.display()))
}
