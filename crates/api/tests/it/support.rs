//! What the API's tests share: a schema over a store with the catalogue, callers, a query runner.

use std::sync::Arc;

use api::Caller;
use catalog::parse::parse_dataset;
use catalog::profile::bundled_files;
use engine::{Engine, Invocation, TokenRole};
use projections::Projector;
use store::{Actor, ActorKind, EventStore};

pub fn caller(role: TokenRole) -> Caller {
    Caller {
        token_id: uuid::Uuid::now_v7(),
        name: role.name().into(),
        role,
        authorities: vec![],
        services: vec![],
        person: None,
        association: None,
        signed_in: None,
    }
}

/// The API over a store: its schema and what it is built on.
pub struct Api {
    pub schema: api::schema::ApiSchema,
    pub engine: Arc<Engine>,
    pub projector: Arc<Projector>,
    pub store: Arc<dyn EventStore>,
}

impl Api {
    /// Waits until the read models have folded every event stored so far: a test that writes
    /// through the engine directly is not a token whose own writes a query waits for.
    pub async fn settled(&self) {
        let head = self.store.head().await.expect("head");
        self.projector.wait_for(head.position).await;
    }
}

/// The API's schema over `store`, after importing the bundled catalogue into it.
pub async fn schema_over(store: Arc<dyn EventStore>) -> Api {
    let registry = Arc::new(engine::definitions::bundled().expect("bundled definitions"));
    let engine = Arc::new(Engine::open(store.clone(), registry.clone()).await.expect("engine"));
    let setup = Invocation::new(workflow::decide::Principal {
        actor: Actor {
            id: "person:setup".into(),
            name: "Setup".into(),
            kind: ActorKind::Person,
            person: None,
        },
        roles: vec![],
        admin: true,
    });
    engine
        .import_catalog(&parse_dataset(&bundled_files()).expect("data"), &setup, |_, _| {})
        .await
        .expect("catalogue");
    let (projector, _) = Projector::start(store.clone(), registry, None).await.expect("projector");
    let schema = api::schema::build(api::ApiState::new(engine.clone(), projector.clone()));
    Api { schema, engine, projector, store }
}

/// Runs `query` as `p` and returns its data (it must not fail).
pub async fn run(schema: &api::schema::ApiSchema, p: &Caller, query: &str) -> serde_json::Value {
    let response = schema.execute(async_graphql::Request::new(query).data(p.clone())).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    response.data.into_json().expect("json")
}

/// Runs `query` as `who`; the whole response (errors included).
pub async fn execute(api: &Api, who: &Caller, query: &str) -> async_graphql::Response {
    api.schema.execute(async_graphql::Request::new(query).data(who.clone())).await
}

/// Runs `query` with `variables` as `who`; the whole response.
pub async fn execute_with(
    api: &Api,
    who: &Caller,
    query: &str,
    variables: serde_json::Value,
) -> async_graphql::Response {
    let request =
        async_graphql::Request::new(query).variables(async_graphql::Variables::from_json(variables));
    api.schema.execute(request.data(who.clone())).await
}

/// The `extensions.code` of a response's first error.
pub fn code(response: &async_graphql::Response) -> Option<String> {
    let ext = response.errors.first()?.extensions.as_ref()?;
    match ext.get("code")? {
        async_graphql::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Every Rust file under `dir`, recursively.
pub fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read the source directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}
