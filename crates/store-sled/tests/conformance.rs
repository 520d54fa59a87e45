//! The sled store passes the conformance suite, on a real sled database in a temporary directory.

use std::sync::Arc;

use proptest::prelude::*;
use store::conformance::TestStore;
use store_sled::{SledConfig, SledStore};

async fn sled_store() -> TestStore {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SledStore::open(SledConfig::new(dir.path())).expect("open");
    TestStore { store: Arc::new(store), keep: Box::new(dir) }
}

store::conformance_tests!(sled_store());

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn random_interleavings_keep_the_log_dense(plan in proptest::collection::vec(
        proptest::collection::vec((0u8..6, 1u8..4), 1..12), 1..10)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        rt.block_on(async {
            let test = sled_store().await;
            store::conformance::random_interleavings_keep_the_log_dense(test.store.clone(), plan).await;
        });
    }
}
