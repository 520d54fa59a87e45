//! Token mutations are engine commands of the request: their events carry the request id as
//! correlation id, like every other mutation.

use std::sync::Arc;

use engine::TokenRole;
use store::MemoryStore;

use crate::support::{caller, schema_over};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_and_revoke_are_recorded_with_the_requests_correlation_id() {
    let api = schema_over(Arc::new(MemoryStore::new())).await;
    let admin = caller(TokenRole::Admin);
    let execute = |query: String, request_id: uuid::Uuid| {
        let request = async_graphql::Request::new(query).data(admin.clone()).data(api::RequestId(request_id));
        api.schema.execute(request)
    };
    let issued_by = uuid::Uuid::now_v7();
    let issued = execute(
        "mutation { issueToken(input: { name: \"Prüferin\", role: \"auditor\", reason: \"Jahresprüfung\" }) { id token } }".into(),
        issued_by,
    )
    .await;
    assert!(issued.errors.is_empty(), "{:?}", issued.errors);
    let data = issued.data.into_json().expect("json");
    let id = data["issueToken"]["id"].as_str().expect("id").to_owned();
    let stream = format!("token-{id}");
    let events =
        api.engine.store().read_stream(&stream, 1, store::Direction::Forward, 10).await.expect("read");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].correlation_id, issued_by, "the request id is the correlation id");
    assert_eq!(events[0].actor, admin.actor(), "the caller is the actor");

    let revoked_by = uuid::Uuid::now_v7();
    let revoke = format!("mutation {{ revokeToken(id: \"{id}\", reason: \"Projekt beendet\") }}");
    let revoked = execute(revoke.clone(), revoked_by).await;
    assert!(revoked.errors.is_empty(), "{:?}", revoked.errors);
    let events =
        api.engine.store().read_stream(&stream, 1, store::Direction::Forward, 10).await.expect("read");
    assert_eq!(events.len(), 2);
    assert_eq!((events[1].event_type.as_str(), events[1].correlation_id), ("TokenRevoked", revoked_by));
    // Revoking again is refused, naming the token, and appends nothing.
    let again = execute(revoke, uuid::Uuid::now_v7()).await;
    let code = again.errors.first().and_then(|e| e.extensions.as_ref()?.get("code").cloned());
    assert_eq!(code, Some(async_graphql::Value::from("NOT_FOUND")), "{:?}", again.errors);
    assert!(again.errors[0].message.contains("already revoked"), "{}", again.errors[0].message);
    assert_eq!(api.engine.store().stream_version(&stream).await.expect("version"), 2);
}
