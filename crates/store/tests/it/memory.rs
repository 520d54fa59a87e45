//! The in-memory store passes the conformance suite.

use std::sync::Arc;

use proptest::prelude::*;
use store::conformance::TestStore;
use store::MemoryStore;

async fn memory() -> TestStore {
    TestStore { store: Arc::new(MemoryStore::new()), keep: Box::new(()) }
}

store::conformance_tests!(memory());

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn random_interleavings_keep_the_log_dense(plan in proptest::collection::vec(
        proptest::collection::vec((0u8..6, 1u8..4), 1..12), 1..10)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        rt.block_on(store::conformance::random_interleavings_keep_the_log_dense(Arc::new(MemoryStore::new()), plan));
    }
}
