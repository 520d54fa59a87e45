//! The event store on PostgreSQL, for several servers on one database.
//!
//! The append path:
//! 1. `append` queues the write on the shared write queue ([`store::writer`]) for this
//!    process's writer task and awaits the answer.
//! 2. The writer takes every write waiting at that moment (a group) and opens one
//!    transaction that first takes a transaction-scoped advisory lock: appends of all servers
//!    are serialized, so positions are assigned and committed in the same order — a reader that
//!    sees position N+1 can never later meet N (the classic skipped-sequence trap).
//! 3. Inside the lock it reads the head and what the group needs to know (stream versions,
//!    stored event ids) and plans the group ([`store::Group::plan`], the shared chain rules);
//!    refused appends do not stop the others.
//! 4. All new rows go in with one `INSERT … SELECT FROM unnest(…)`, then `pg_notify`, then
//!    `COMMIT` (synchronous commit: durable before it returns).
//! 5. Callers are answered; local subscribers get the events; other servers get the
//!    notification as a wake-up and read the table from their own position, so a lost
//!    notification delays but never loses an event.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use store::{
    write_queue, AppendIndex, Clock, Committed, Direction, EventStore, ExpectedVersion, Group, GroupPlan,
    Head, NewEvent, RecordedEvent, StoreError, SystemClock, WriteQueue, WriteReceiver,
};
use tokio::sync::{broadcast, mpsc};
use tokio_postgres::{AsyncMessage, Client, NoTls};
use uuid::Uuid;

use store::limits::LIVE_CHANNEL_BATCHES;

mod keys;
mod sessions;
mod writer;

use writer::*;
/// The advisory lock that serializes appends across servers.
const APPEND_LOCK: i64 = 0x6566_615f_726f_6c6c; // "efa_roll"
const CHANNEL: &str = "efa_events";

const MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS efa_events (
        position BIGINT PRIMARY KEY,
        event_id BYTEA NOT NULL UNIQUE,
        stream_id TEXT COLLATE \"C\" NOT NULL,
        version BIGINT NOT NULL,
        record BYTEA NOT NULL,
        UNIQUE (stream_id, version)
    )",
    "CREATE TABLE IF NOT EXISTS efa_schema_version (version INT NOT NULL)",
    // One row a health probe rewrites: a write that fails when the database cannot write.
    "CREATE TABLE IF NOT EXISTS efa_write_probe (id INT PRIMARY KEY, at TIMESTAMPTZ NOT NULL)",
    // `Blobs`: named values beside the log (the read models' checkpoints), in chunks.
    "CREATE TABLE IF NOT EXISTS efa_blobs (
        name TEXT NOT NULL,
        chunk INT NOT NULL,
        bytes BYTEA NOT NULL,
        PRIMARY KEY (name, chunk)
    )",
    // Sign-in sessions (`store::SessionStore`), beside the log.
    sessions::TABLE,
    sessions::INDEX,
];

/// Where the store lives.
#[derive(Debug, Clone)]
pub struct PgConfig {
    /// `postgres://user@host:port/database`.
    pub url: String,
    /// A schema of its own (created when missing); `None`: the connection's default.
    pub schema: Option<String>,
    pub clock: Arc<dyn Clock>,
}

impl PgConfig {
    pub fn new(url: impl Into<String>) -> Self {
        PgConfig { url: url.into(), schema: None, clock: Arc::new(SystemClock) }
    }
}

pub(crate) fn db_err(e: tokio_postgres::Error) -> StoreError {
    // The database cannot take writes now (connection lost or refused, disk full, out of
    // memory, shutting down): `Unavailable`, which clears once it can again.
    let transient = e.is_closed()
        || e.code().is_none_or(|c| {
            let c = c.code();
            c.starts_with("08") || c.starts_with("53") || c.starts_with("57P")
        });
    if transient {
        StoreError::Unavailable(format!("PostgreSQL: {e}"))
    } else {
        StoreError::Io(format!("PostgreSQL: {e}"))
    }
}

async fn connect(config: &PgConfig) -> Result<Client, StoreError> {
    let (client, connection) = connect_raw(config).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "a PostgreSQL connection ended");
        }
    });
    Ok(client)
}

async fn connect_raw(
    config: &PgConfig,
) -> Result<
    (Client, tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>),
    StoreError,
> {
    let mut pg: tokio_postgres::Config = config
        .url
        .parse()
        .map_err(|e| StoreError::Io(format!("not a PostgreSQL URL ({}): {e}", config.url)))?;
    if let Some(schema) = &config.schema {
        pg.options(format!("-c search_path={schema}"));
    }
    pg.connect_timeout(Duration::from_secs(5));
    // A database that cannot be reached now may be reachable later: `Unavailable`.
    pg.connect(NoTls)
        .await
        .map_err(|e| StoreError::Unavailable(format!("cannot connect to {}: {e}", config.url)))
}

/// The event store on PostgreSQL. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    unwritable: Arc<std::sync::Mutex<Option<String>>>,
    config: PgConfig,
    reader: tokio::sync::Mutex<Option<Arc<Client>>>,
    live: broadcast::Sender<Committed>,
    queue: WriteQueue,
    tasks: RwLock<Vec<tokio::task::JoinHandle<()>>>,
    /// Persons' keys read or created here (`keys.rs`); an erasure removes its entries.
    keys: std::sync::Mutex<std::collections::HashMap<Uuid, store::Key>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for t in self.tasks.read().unwrap_or_else(|p| p.into_inner()).iter() {
            t.abort();
        }
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("url", &self.inner.config.url).finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects, creates the schema and tables when missing, and starts the writer and the
    /// listener.
    pub async fn open(config: PgConfig) -> Result<PgStore, StoreError> {
        let setup = connect(&PgConfig { schema: None, ..config.clone() }).await?;
        if let Some(schema) = &config.schema {
            if !schema.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(StoreError::Invalid(format!(
                    "schema name `{schema}`: letters, digits and `_` only"
                )));
            }
            setup.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).await.map_err(db_err)?;
        }
        let client = connect(&config).await?;
        for m in MIGRATIONS.iter().chain(keys::MIGRATIONS) {
            client.batch_execute(m).await.map_err(db_err)?;
        }
        collate_stream_ids(&client).await?;
        let (live, _) = broadcast::channel(LIVE_CHANNEL_BATCHES);
        let (queue, receiver) = write_queue();
        let unwritable = Arc::new(std::sync::Mutex::new(None));
        let writer = Writer {
            config: config.clone(),
            client: Some(client),
            statements: None,
            live: live.clone(),
            unwritable: unwritable.clone(),
        };
        let writer = tokio::spawn(writer.run(receiver));
        let listener = tokio::spawn(listen(config.clone(), live.clone()));
        Ok(PgStore {
            inner: Arc::new(Inner {
                unwritable,
                config,
                reader: tokio::sync::Mutex::new(None),
                live,
                queue,
                tasks: RwLock::new(vec![writer, listener]),
                keys: std::sync::Mutex::default(),
            }),
        })
    }

    /// The reading connection, reconnected when it was lost.
    async fn reader(&self) -> Result<Arc<Client>, StoreError> {
        let mut slot = self.inner.reader.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let c = Arc::new(connect(&self.inner.config).await?);
        *slot = Some(c.clone());
        Ok(c)
    }

    async fn query_events(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = self.reader().await?.query(sql, params).await.map_err(db_err)?;
        rows.iter()
            .map(|row| {
                let position: i64 = row.get(0);
                let bytes: Vec<u8> = row.get(1);
                store::decode(&bytes)
                    .map_err(|reason| StoreError::Corrupt { position: position as u64, reason })
            })
            .collect()
    }
}

/// Stream ids compare byte by byte (collation "C"), whatever the database's collation, so a
/// category (a prefix) is a range of the `(stream_id, version)` index. Tables made by builds
/// before this had the database's collation: changed once, under the table's lock (which
/// rebuilds that index: 19 s at 10^7 events, once). The collation is asked again under the
/// lock, so servers starting together change it once, not once each.
async fn collate_stream_ids(client: &tokio_postgres::Client) -> Result<(), StoreError> {
    const COLLATION: &str = "SELECT coalesce(collation_name, '') FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = 'efa_events' AND column_name = 'stream_id'";
    let collation: String = client.query_one(COLLATION, &[]).await.map_err(db_err)?.get(0);
    if collation == "C" {
        return Ok(());
    }
    tracing::info!(from = %collation, "stream ids of efa_events change to collation \"C\" (once; the stream index is rebuilt)");
    client
        .batch_execute(&format!(
            "BEGIN; LOCK TABLE efa_events IN ACCESS EXCLUSIVE MODE; \
             DO $$ BEGIN IF ({COLLATION}) <> 'C' THEN \
             ALTER TABLE efa_events ALTER COLUMN stream_id TYPE TEXT COLLATE \"C\"; END IF; END $$; COMMIT;"
        ))
        .await
        .map_err(db_err)
}

/// The first string after every string that starts with `prefix`, byte by byte (collation
/// "C"): `prefix` with its last character raised (a last `char::MAX` dropped first), or
/// `None` for an empty prefix or one of `char::MAX` only (no upper bound).
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// LISTEN for commits of any server; each notification wakes the local subscribers, which
/// then read the table. Reconnects after a lost connection (and wakes everyone up then).
async fn listen(config: PgConfig, live: broadcast::Sender<Committed>) {
    loop {
        match connect_raw(&config).await {
            Ok((client, mut connection)) => {
                // The connection is driven here; its notifications come back over a channel.
                let (tx, mut notifications) = mpsc::unbounded_channel::<()>();
                let driver = tokio::spawn(async move {
                    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(Ok(message)) = messages.next().await {
                        if matches!(message, AsyncMessage::Notification(_)) && tx.send(()).is_err() {
                            break;
                        }
                    }
                });
                let listen = format!("LISTEN {CHANNEL}");
                if client.batch_execute(&listen).await.is_ok() {
                    // Anything committed while we were not listening is read by the wakened.
                    let _ = live.send(Arc::from(Vec::new()));
                    while notifications.recv().await.is_some() {
                        let _ = live.send(Arc::from(Vec::new()));
                    }
                }
                driver.abort();
                tracing::warn!("the LISTEN connection was lost; reconnecting");
            }
            Err(e) => tracing::warn!(error = %e, "LISTEN connection failed; retrying"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub(crate) fn decode_row(row: &tokio_postgres::Row) -> Result<RecordedEvent, StoreError> {
    let position: i64 = row.get(0);
    let bytes: Vec<u8> = row.get(1);
    store::decode(&bytes).map_err(|reason| StoreError::Corrupt { position: position as u64, reason })
}

/// Each value in rows of at most [`store::limits::BLOB_CHUNK_BYTES`], replaced in one
/// transaction on a connection of its own (the shared reader pipelines other queries). Servers
/// writing the same name take turns (a transaction-scoped advisory lock on the name's hash).
/// What a replaced value leaves behind (dead tuples, WAL) is PostgreSQL's to reclaim by vacuum:
/// these values are derived from the log and hold nothing the log does not.
#[async_trait::async_trait]
impl store::Blobs for PgStore {
    async fn put(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let mut client = connect(&self.inner.config).await?;
        let tx = client.transaction().await.map_err(db_err)?;
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&name]).await.map_err(db_err)?;
        tx.execute("DELETE FROM efa_blobs WHERE name = $1", &[&name]).await.map_err(db_err)?;
        let insert = tx
            .prepare("INSERT INTO efa_blobs (name, chunk, bytes) VALUES ($1, $2, $3)")
            .await
            .map_err(db_err)?;
        for (i, chunk) in bytes.chunks(store::limits::BLOB_CHUNK_BYTES).enumerate() {
            let i =
                i32::try_from(i).map_err(|_| StoreError::Invalid(format!("value `{name}` is too large")))?;
            tx.execute(&insert, &[&name, &i, &chunk]).await.map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let rows = self
            .reader()
            .await?
            .query("SELECT chunk, bytes FROM efa_blobs WHERE name = $1 ORDER BY chunk", &[&name])
            .await
            .map_err(db_err)?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut value = Vec::new();
        for (expected, row) in rows.iter().enumerate() {
            let chunk: i32 = row.get(0);
            if usize::try_from(chunk).ok() != Some(expected) {
                return Err(StoreError::Io(format!("value `{name}`: chunk {expected} is missing")));
            }
            value.extend_from_slice(row.get::<_, &[u8]>(1));
        }
        Ok(Some(value))
    }
}

#[async_trait::async_trait]
impl EventStore for PgStore {
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.queue.append(stream_id, expected, events).await
    }

    async fn append_recorded(&self, events: Vec<RecordedEvent>) -> Result<(), StoreError> {
        self.inner.queue.append_recorded(events).await
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from: u64,
        direction: Direction,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let max = max.min(store::limits::READ_BATCH_MAX) as i64;
        let from = from.min(i64::MAX as u64) as i64;
        match direction {
            Direction::Forward => {
                self.query_events(
                    "SELECT position, record FROM efa_events WHERE stream_id = $1 AND version >= $2 ORDER BY version LIMIT $3",
                    &[&stream_id, &from, &max],
                )
                .await
            }
            Direction::Backward => {
                self.query_events(
                    "SELECT position, record FROM efa_events WHERE stream_id = $1 AND version <= $2 ORDER BY version DESC LIMIT $3",
                    &[&stream_id, &from, &max],
                )
                .await
            }
        }
    }

    async fn stream_version(&self, stream_id: &str) -> Result<u64, StoreError> {
        let row = self
            .reader()
            .await?
            .query_one("SELECT coalesce(max(version), 0) FROM efa_events WHERE stream_id = $1", &[&stream_id])
            .await
            .map_err(db_err)?;
        let v: i64 = row.get(0);
        Ok(v as u64)
    }

    async fn read_all(&self, from: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        let max = max.min(store::limits::READ_BATCH_MAX) as i64;
        let from = from.min(i64::MAX as u64) as i64;
        self.query_events(
            "SELECT position, record FROM efa_events WHERE position >= $1 ORDER BY position LIMIT $2",
            &[&from, &max],
        )
        .await
    }

    async fn read_category(
        &self,
        prefix: &str,
        after: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let max = max.min(store::limits::READ_BATCH_MAX) as i64;
        let after = after.min(i64::MAX as u64) as i64;
        let prefix = prefix.to_owned();
        // A range of the stream index (stream ids are in collation "C"), not a scan of the log:
        // the catalogue's few thousand events are found in milliseconds among 10^7. Fenced
        // (MATERIALIZED), or the planner walks the position index in order and filters, which
        // reads the whole log for a category's last page (1.4 s at 10^7 events).
        match prefix_end(&prefix) {
            Some(end) => {
                self.query_events(
                    "WITH category AS MATERIALIZED (SELECT position, record FROM efa_events WHERE stream_id >= $1 AND stream_id < $2 AND position > $3) \
                     SELECT position, record FROM category ORDER BY position LIMIT $4",
                    &[&prefix, &end, &after, &max],
                )
                .await
            }
            None => {
                self.query_events(
                    "SELECT position, record FROM efa_events WHERE left(stream_id, char_length($1)) = $1 AND position > $2 ORDER BY position LIMIT $3",
                    &[&prefix, &after, &max],
                )
                .await
            }
        }
    }

    async fn read_event(&self, position: u64) -> Result<Option<RecordedEvent>, StoreError> {
        let p = position.min(i64::MAX as u64) as i64;
        Ok(self
            .query_events("SELECT position, record FROM efa_events WHERE position = $1", &[&p])
            .await?
            .pop())
    }

    async fn read_event_by_id(&self, event_id: Uuid) -> Result<Option<RecordedEvent>, StoreError> {
        let id = event_id.as_bytes().as_slice();
        Ok(self
            .query_events("SELECT position, record FROM efa_events WHERE event_id = $1", &[&id])
            .await?
            .pop())
    }

    fn clock(&self) -> Arc<dyn Clock> {
        self.inner.config.clock.clone()
    }

    fn key_store(&self) -> Option<Arc<dyn store::KeyStore>> {
        Some(Arc::new(self.clone()))
    }

    fn sessions(&self) -> Option<Arc<dyn store::SessionStore>> {
        Some(Arc::new(self.clone()))
    }

    async fn head(&self) -> Result<Head, StoreError> {
        let last = self
            .query_events("SELECT position, record FROM efa_events ORDER BY position DESC LIMIT 1", &[])
            .await?;
        Ok(last.first().map(Head::after).unwrap_or(Head::EMPTY))
    }

    /// Writable unless the last group failed for a reason that clears (connection, disk); then
    /// a probe write tells whether it has.
    async fn health(&self) -> store::Health {
        let Some(cause) = self.inner.unwritable.lock().unwrap_or_else(|p| p.into_inner()).clone() else {
            return store::Health::Writable;
        };
        let probe = async {
            let client = self.reader().await?;
            client
                .batch_execute(
                    "INSERT INTO efa_write_probe VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
                )
                .await
                .map_err(db_err)
        };
        match tokio::time::timeout(std::time::Duration::from_secs(5), probe).await {
            Ok(Ok(())) => {
                *self.inner.unwritable.lock().unwrap_or_else(|p| p.into_inner()) = None;
                store::Health::Writable
            }
            Ok(Err(e)) => store::Health::Unwritable { cause: e.to_string(), fatal: false },
            Err(_) => store::Health::Unwritable {
                cause: format!("{cause} (a probe write timed out)"),
                fatal: false,
            },
        }
    }

    fn notifications(&self) -> broadcast::Receiver<Committed> {
        self.inner.live.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn a_prefix_ends_where_its_last_character_is_raised() {
        assert_eq!(prefix_end("authority-").as_deref(), Some("authority."));
        assert_eq!(prefix_end("é").as_deref(), Some("ê"));
        // Across the surrogate gap, and past the largest character.
        assert_eq!(prefix_end("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        assert_eq!(prefix_end(""), None);
    }
}
