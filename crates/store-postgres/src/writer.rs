//! The writer task of a PostgreSQL store: one transaction per group of appends — the advisory
//! lock, the head and the group's stream versions and event ids in one round trip, the shared
//! planning, one insert that also notifies, the commit.

use crate::*;

pub(crate) struct Writer {
    pub(crate) config: PgConfig,
    pub(crate) client: Option<Client>,
    pub(crate) statements: Option<Statements>,
    pub(crate) live: broadcast::Sender<Committed>,
    /// Why the last group could not be written, until one is (or a probe write succeeds).
    pub(crate) unwritable: Arc<std::sync::Mutex<Option<String>>>,
}

/// The writer's statements, prepared once per connection (an unprepared query costs a second
/// round trip).
pub(crate) struct Statements {
    pub(crate) head: tokio_postgres::Statement,
    pub(crate) versions: tokio_postgres::Statement,
    pub(crate) ids: tokio_postgres::Statement,
    pub(crate) insert: tokio_postgres::Statement,
    pub(crate) by_positions: tokio_postgres::Statement,
}

impl Statements {
    pub(crate) async fn prepare(client: &Client) -> Result<Statements, StoreError> {
        let insert = format!(
            "WITH inserted AS (
               INSERT INTO efa_events (position, event_id, stream_id, version, record)
               SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::text[], $4::bigint[], $5::bytea[])
               RETURNING position)
             SELECT pg_notify('{CHANNEL}', max(position)::text) FROM inserted"
        );
        let (head, versions, ids, insert, by_positions) = tokio::try_join!(
            client.prepare("SELECT position, record FROM efa_events ORDER BY position DESC LIMIT 1"),
            // One `max` per stream: PostgreSQL answers each from the end of the (stream_id,
            // version) index. (`max(version) … WHERE stream_id = ANY($1) GROUP BY stream_id`
            // read every row of those streams: 10 ms for a stream of 2,200 events, under the
            // append lock.)
            client.prepare(
                "SELECT s.id, v.version FROM unnest($1::text[]) AS s(id) \
                 CROSS JOIN LATERAL (SELECT max(version) AS version FROM efa_events WHERE stream_id = s.id) AS v \
                 WHERE v.version IS NOT NULL"
            ),
            client.prepare("SELECT event_id, position FROM efa_events WHERE event_id = ANY($1)"),
            // Insert and notify in one statement: one round trip.
            client.prepare(&insert),
            client.prepare(
                "SELECT position, record FROM efa_events WHERE position = ANY($1) ORDER BY position"
            ),
        )
        .map_err(db_err)?;
        Ok(Statements { head, versions, ids, insert, by_positions })
    }
}

/// What the group's appends are checked against: prefetched rows plus the group's own plans.
pub(crate) struct Index {
    pub(crate) versions: HashMap<String, u64>,
    pub(crate) ids: HashMap<Uuid, u64>,
}

impl AppendIndex for Index {
    fn stream_version(&mut self, stream_id: &str) -> Result<u64, StoreError> {
        Ok(self.versions.get(stream_id).copied().unwrap_or(0))
    }

    fn position_of(&mut self, event_id: Uuid) -> Result<Option<u64>, StoreError> {
        Ok(self.ids.get(&event_id).copied())
    }
}

impl Writer {
    pub(crate) async fn run(mut self, mut queue: WriteReceiver) {
        while let Some(group) = queue.next_group().await {
            match self.commit(&group).await {
                Ok((plan, stored)) => {
                    *self.unwritable.lock().unwrap_or_else(|p| p.into_inner()) = None;
                    if !plan.rows().is_empty() {
                        let _ = self.live.send(plan.rows().into());
                    }
                    group.answer(plan, &stored);
                }
                Err(e) => {
                    tracing::error!(error = %e, "a group commit failed; nothing of it is acknowledged");
                    if let StoreError::Unavailable(cause) = &e {
                        *self.unwritable.lock().unwrap_or_else(|p| p.into_inner()) = Some(cause.clone());
                        // A new connection for the next group.
                        self.client = None;
                    }
                    group.fail(e);
                }
            }
        }
    }

    /// The connection and its prepared statements, reconnected when lost.
    pub(crate) async fn client(&mut self) -> Result<(&Client, &Statements), StoreError> {
        if self.client.as_ref().is_none_or(|c| c.is_closed()) {
            self.statements = None;
            self.client = Some(connect(&self.config).await?);
        }
        let client = self.client.as_ref().ok_or(StoreError::Closed)?;
        if self.statements.is_none() {
            self.statements = Some(Statements::prepare(client).await?);
        }
        Ok((client, self.statements.as_ref().ok_or(StoreError::Closed)?))
    }

    /// One transaction for the group in two round trips whatever its size, each a pipeline on
    /// the connection (PostgreSQL runs a connection's statements in the order sent):
    /// 1. BEGIN with the lock, then the reads the plan needs (head, stream versions, event ids);
    /// 2. the insert with its notification, the events the group's retries name, COMMIT.
    ///
    /// If a statement of the second fails, the transaction is aborted and the COMMIT behind it
    /// only ends it (PostgreSQL answers a COMMIT of an aborted transaction with a rollback):
    /// nothing of the group is stored, and the error is the statement's. Returns the plan and
    /// the retries' stored events.
    pub(crate) async fn commit(
        &mut self,
        group: &Group,
    ) -> Result<(GroupPlan, Vec<RecordedEvent>), StoreError> {
        let now = self.config.clock.now();
        let (client, st) = self.client().await?;
        match plan_and_insert(client, st, group, now).await {
            Ok(planned) => Ok(planned),
            Err(e) => {
                // Ends the transaction if the failure came before the COMMIT was sent (a
                // warning, not an error, when there is none).
                let _ = client.batch_execute("ROLLBACK").await;
                Err(e)
            }
        }
    }
}

/// Opens the transaction and takes the lock (serializing appends of every server: positions
/// follow commit order), plans the group against the log, inserts its rows, reads the events
/// its retries name and commits.
pub(crate) async fn plan_and_insert(
    client: &Client,
    st: &Statements,
    group: &Group,
    now: store::Timestamp,
) -> Result<(GroupPlan, Vec<RecordedEvent>), StoreError> {
    let begin = format!("BEGIN; SELECT pg_advisory_xact_lock({APPEND_LOCK})");
    let streams: Vec<&str> = group.writes().flat_map(|w| w.stream_ids()).collect();
    let ids: Vec<Vec<u8>> =
        group.writes().flat_map(|w| w.event_ids()).map(|id| id.as_bytes().to_vec()).collect();
    let (stream_params, id_params): (
        [&(dyn tokio_postgres::types::ToSql + Sync); 1],
        [&(dyn tokio_postgres::types::ToSql + Sync); 1],
    ) = ([&streams], [&ids]);
    // `try_join!` polls in order, so the statements are sent in this order, in one pipeline.
    let ((), head_row, version_rows, id_rows) = tokio::try_join!(
        client.batch_execute(&begin),
        client.query_opt(&st.head, &[]),
        client.query(&st.versions, &stream_params),
        client.query(&st.ids, &id_params),
    )
    .map_err(db_err)?;
    let mut head = match head_row {
        None => Head::EMPTY,
        Some(row) => Head::after(&decode_row(&row)?),
    };
    let mut index = Index { versions: HashMap::new(), ids: HashMap::new() };
    for row in version_rows {
        let v: i64 = row.get(1);
        index.versions.insert(row.get(0), v as u64);
    }
    for row in id_rows {
        let id: Vec<u8> = row.get(0);
        let p: i64 = row.get(1);
        if let Ok(id) = Uuid::from_slice(&id) {
            index.ids.insert(id, p as u64);
        }
    }
    let plan = group.plan(&mut index, &mut head, now);
    let rows = plan.rows();
    let positions: Vec<i64> = rows.iter().map(|e| e.position as i64).collect();
    let event_ids: Vec<Vec<u8>> = rows.iter().map(|e| e.event_id.as_bytes().to_vec()).collect();
    let stream_ids: Vec<&str> = rows.iter().map(|e| e.stream_id.as_str()).collect();
    let versions: Vec<i64> = rows.iter().map(|e| e.version as i64).collect();
    let records: Vec<Vec<u8>> = rows.iter().map(store::encode).collect();
    let retries: Vec<i64> = plan.retry_positions().into_iter().map(|p| p as i64).collect();
    let insert = async {
        if rows.is_empty() {
            return Ok(());
        }
        client.query(&st.insert, &[&positions, &event_ids, &stream_ids, &versions, &records]).await.map(drop)
    };
    let stored = async {
        if retries.is_empty() {
            return Ok(Vec::new());
        }
        client.query(&st.by_positions, &[&retries]).await
    };
    // In order: the insert, the retries' events, COMMIT — one pipeline. `join!` (not
    // `try_join!`): the COMMIT is sent whatever the others answer, and every answer is read.
    let (inserted, stored, committed) = tokio::join!(insert, stored, client.batch_execute("COMMIT"));
    inserted.map_err(db_err)?;
    let stored = stored.map_err(db_err)?;
    committed.map_err(db_err)?;
    let stored = stored.iter().map(decode_row).collect::<Result<Vec<_>, _>>()?;
    Ok((plan, stored))
}
