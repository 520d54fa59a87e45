//! The sign-in sessions of a PostgreSQL store: the table `efa_sessions`, shared by every
//! server on the database (a session begun through one is known to all).

use store::{SessionKey, SessionRow, StoreError, Timestamp};
use uuid::Uuid;

use crate::{db_err, PgStore};

/// The table, created with the store's other tables.
pub(crate) const TABLE: &str = "CREATE TABLE IF NOT EXISTS efa_sessions (
    key BYTEA PRIMARY KEY,
    person BYTEA NOT NULL,
    keep_until BIGINT NOT NULL,
    value BYTEA NOT NULL
)";

/// Its index by person (listing and erasing a person's sessions).
pub(crate) const INDEX: &str = "CREATE INDEX IF NOT EXISTS efa_sessions_person ON efa_sessions (person)";

fn row(r: &tokio_postgres::Row) -> Result<SessionRow, StoreError> {
    let key: Vec<u8> = r.get(0);
    let key: SessionKey =
        key.try_into().map_err(|_| StoreError::Io("efa_sessions: a key is not 32 bytes".into()))?;
    let person: Vec<u8> = r.get(1);
    let person = Uuid::from_slice(&person)
        .map_err(|_| StoreError::Io("efa_sessions: a person is not 16 bytes".into()))?;
    Ok(SessionRow { key, person, keep_until: Timestamp::from_unix_micros(r.get(2)), value: r.get(3) })
}

#[async_trait::async_trait]
impl store::SessionStore for PgStore {
    async fn put(&self, row: SessionRow) -> Result<(), StoreError> {
        self.reader()
            .await?
            .execute(
                "INSERT INTO efa_sessions (key, person, keep_until, value) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (key) DO UPDATE SET person = $2, keep_until = $3, value = $4",
                &[&&row.key[..], &&row.person.as_bytes()[..], &row.keep_until.unix_micros(), &row.value],
            )
            .await
            .map(|_| ())
            .map_err(db_err)
    }

    async fn get(&self, key: &SessionKey) -> Result<Option<SessionRow>, StoreError> {
        let rows = self
            .reader()
            .await?
            .query("SELECT key, person, keep_until, value FROM efa_sessions WHERE key = $1", &[&&key[..]])
            .await
            .map_err(db_err)?;
        rows.first().map(row).transpose()
    }

    async fn of_person(&self, person: Uuid) -> Result<Vec<SessionRow>, StoreError> {
        let rows = self
            .reader()
            .await?
            .query(
                "SELECT key, person, keep_until, value FROM efa_sessions WHERE person = $1",
                &[&&person.as_bytes()[..]],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(row).collect()
    }

    async fn remove_person(&self, person: Uuid) -> Result<(), StoreError> {
        self.reader()
            .await?
            .execute("DELETE FROM efa_sessions WHERE person = $1", &[&&person.as_bytes()[..]])
            .await
            .map(|_| ())
            .map_err(db_err)
    }

    async fn purge(&self, now: Timestamp) -> Result<usize, StoreError> {
        let n = self
            .reader()
            .await?
            .execute("DELETE FROM efa_sessions WHERE keep_until < $1", &[&now.unix_micros()])
            .await
            .map_err(db_err)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}
