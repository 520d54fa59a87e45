//! The key store on PostgreSQL (`efa_kek`, `efa_person_keys`), shared by every server on the
//! database, designed so that a destroyed key is gone.
//!
//! Each person's key is stored sealed under the key-encryption key (KEK) in `efa_kek`.
//! Destroying keys deletes their rows and, in the same transaction, replaces the KEK with a
//! fresh one and seals every remaining key again under it; then both tables are rewritten
//! (`VACUUM FULL`: new files, the old ones unlinked) so no dead tuple holds the old KEK, and a
//! `CHECKPOINT` is asked for (it lets PostgreSQL recycle the WAL that holds the old rows; a
//! role without the right to it leaves that to the next regular checkpoint). What remains
//! outside the server's reach — WAL archives, base backups, replicas' WAL — is the operator's
//! (README, "Erasure and backups").

use std::collections::HashMap;

use store::{Key, KeyStore, StoreError};
use uuid::Uuid;

use crate::{connect, db_err, PgStore};

/// The tables, created with the others at open.
pub(crate) const MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS efa_kek (
        id INT PRIMARY KEY CHECK (id = 1),
        generation BIGINT NOT NULL,
        kek BYTEA NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS efa_person_keys (person_id BYTEA PRIMARY KEY, wrapped BYTEA NOT NULL)",
];

fn kek_of(bytes: &[u8]) -> Result<Key, StoreError> {
    let bytes: [u8; store::keys::KEY_BYTES] =
        bytes.try_into().map_err(|_| StoreError::Io("efa_kek holds a key of the wrong length".into()))?;
    Ok(Key::from_bytes(bytes))
}

fn unwrapped(kek: &Key, id: Uuid, wrapped: &[u8]) -> Result<Key, StoreError> {
    Key::unwrap_from(kek, id, wrapped)
        .map_err(|_| StoreError::Io(format!("the key of person {id} does not open under the current KEK")))
}

impl PgStore {
    fn key_cache(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Key>> {
        self.inner.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current KEK, created on first use (servers racing to create it: one wins).
    async fn kek(tx: &tokio_postgres::Transaction<'_>, lock: &str) -> Result<Key, StoreError> {
        let select = format!("SELECT kek FROM efa_kek WHERE id = 1 {lock}");
        if let Some(row) = tx.query_opt(&select, &[]).await.map_err(db_err)? {
            return kek_of(row.get::<_, &[u8]>(0));
        }
        let fresh = Key::generate()?;
        tx.execute(
            "INSERT INTO efa_kek (id, generation, kek) VALUES (1, 1, $1) ON CONFLICT (id) DO NOTHING",
            &[&&fresh.expose()[..]],
        )
        .await
        .map_err(db_err)?;
        let row = tx.query_one(&select, &[]).await.map_err(db_err)?;
        kek_of(row.get::<_, &[u8]>(0))
    }
}

#[async_trait::async_trait]
impl KeyStore for PgStore {
    async fn create(&self, id: Uuid) -> Result<Key, StoreError> {
        if let Some(key) = self.key_cache().get(&id) {
            return Ok(key.clone());
        }
        let mut client = connect(&self.inner.config).await?;
        let tx = client.transaction().await.map_err(db_err)?;
        // FOR SHARE: no erasure replaces the KEK between reading it and sealing under it.
        let kek = PgStore::kek(&tx, "FOR SHARE").await?;
        let existing = tx
            .query_opt("SELECT wrapped FROM efa_person_keys WHERE person_id = $1", &[&&id.as_bytes()[..]])
            .await
            .map_err(db_err)?;
        let key = match existing {
            Some(row) => unwrapped(&kek, id, row.get::<_, &[u8]>(0))?,
            None => {
                let key = Key::generate()?;
                let wrapped = key.wrap(&kek, id)?;
                tx.execute(
                    "INSERT INTO efa_person_keys (person_id, wrapped) VALUES ($1, $2)",
                    &[&&id.as_bytes()[..], &&wrapped[..]],
                )
                .await
                .map_err(db_err)?;
                key
            }
        };
        tx.commit().await.map_err(db_err)?;
        self.key_cache().insert(id, key.clone());
        Ok(key)
    }

    async fn get(&self, id: Uuid) -> Result<Option<Key>, StoreError> {
        if let Some(key) = self.key_cache().get(&id) {
            return Ok(Some(key.clone()));
        }
        let row = self
            .reader()
            .await?
            .query_opt(
                "SELECT k.kek, p.wrapped FROM efa_person_keys p CROSS JOIN efa_kek k
                 WHERE k.id = 1 AND p.person_id = $1",
                &[&&id.as_bytes()[..]],
            )
            .await
            .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let key = unwrapped(&kek_of(row.get::<_, &[u8]>(0))?, id, row.get::<_, &[u8]>(1))?;
        self.key_cache().insert(id, key.clone());
        Ok(Some(key))
    }

    async fn destroy(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        {
            let mut cache = self.key_cache();
            for id in ids {
                cache.remove(id);
            }
        }
        let mut client = connect(&self.inner.config).await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let old = PgStore::kek(&tx, "FOR UPDATE").await?;
        let gone: Vec<&[u8]> = ids.iter().map(|id| &id.as_bytes()[..]).collect();
        let deleted = tx
            .execute("DELETE FROM efa_person_keys WHERE person_id = ANY($1)", &[&gone])
            .await
            .map_err(db_err)?;
        if deleted == 0 {
            return tx.commit().await.map_err(db_err);
        }
        let kek = Key::generate()?;
        let rows = tx.query("SELECT person_id, wrapped FROM efa_person_keys", &[]).await.map_err(db_err)?;
        let (mut person_ids, mut wrapped) = (Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()));
        for row in &rows {
            let id = Uuid::from_slice(row.get::<_, &[u8]>(0))
                .map_err(|e| StoreError::Io(format!("efa_person_keys holds a bad id: {e}")))?;
            let key = unwrapped(&old, id, row.get::<_, &[u8]>(1))?;
            person_ids.push(id.as_bytes().to_vec());
            wrapped.push(key.wrap(&kek, id)?.to_vec());
        }
        tx.execute(
            "UPDATE efa_person_keys p SET wrapped = n.wrapped
             FROM unnest($1::bytea[], $2::bytea[]) AS n(person_id, wrapped) WHERE p.person_id = n.person_id",
            &[&person_ids, &wrapped],
        )
        .await
        .map_err(db_err)?;
        tx.execute(
            "UPDATE efa_kek SET generation = generation + 1, kek = $1 WHERE id = 1",
            &[&&kek.expose()[..]],
        )
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        // The old KEK's and the deleted keys' tuples are dead now: rewrite both tables.
        client.batch_execute("VACUUM FULL efa_person_keys, efa_kek").await.map_err(db_err)?;
        if let Err(e) = client.batch_execute("CHECKPOINT").await {
            tracing::info!(error = %e, "no CHECKPOINT after an erasure: the next regular one recycles the WAL");
        }
        Ok(())
    }

    async fn all(&self) -> Result<Vec<(Uuid, Key)>, StoreError> {
        let mut client = connect(&self.inner.config).await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let kek = PgStore::kek(&tx, "FOR SHARE").await?;
        let rows = tx.query("SELECT person_id, wrapped FROM efa_person_keys", &[]).await.map_err(db_err)?;
        let mut all = Vec::with_capacity(rows.len());
        for row in &rows {
            let id = Uuid::from_slice(row.get::<_, &[u8]>(0))
                .map_err(|e| StoreError::Io(format!("efa_person_keys holds a bad id: {e}")))?;
            all.push((id, unwrapped(&kek, id, row.get::<_, &[u8]>(1))?));
        }
        tx.commit().await.map_err(db_err)?;
        all.sort_by_key(|(id, _)| *id);
        Ok(all)
    }

    async fn insert(&self, keys: Vec<(Uuid, Key)>) -> Result<(), StoreError> {
        let mut client = connect(&self.inner.config).await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let kek = PgStore::kek(&tx, "FOR SHARE").await?;
        let (mut person_ids, mut wrapped) = (Vec::with_capacity(keys.len()), Vec::with_capacity(keys.len()));
        for (id, key) in &keys {
            person_ids.push(id.as_bytes().to_vec());
            wrapped.push(key.wrap(&kek, *id)?.to_vec());
        }
        tx.execute(
            "INSERT INTO efa_person_keys (person_id, wrapped) SELECT * FROM unnest($1::bytea[], $2::bytea[])
             ON CONFLICT (person_id) DO NOTHING",
            &[&person_ids, &wrapped],
        )
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }
}
