//! The sled store passes the conformance suite, on a real sled database in a temporary directory:
//! once with the default segment size (everything in one segment) and once with segments of a
//! few events each, so that reads cross closed segments and their offset indexes.

use std::sync::Arc;

use proptest::prelude::*;
use store::conformance::TestStore;
use store_sled::{SledConfig, SledStore};

async fn sled_store() -> TestStore {
    sled_store_with_segments(store_sled::SEGMENT_BYTES_DEFAULT).await
}

async fn sled_store_with_segments(segment_bytes: u64) -> TestStore {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut config = SledConfig::new(dir.path());
    config.segment_bytes = segment_bytes;
    let store = SledStore::open(config).expect("open");
    TestStore { store: Arc::new(store), keep: Box::new(dir) }
}

store::conformance_tests!(sled_store());

mod small_segments {
    use super::*;
    store::conformance_tests!(sled_store_with_segments(1_024));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn random_interleavings_keep_the_log_dense(plan in proptest::collection::vec(
        proptest::collection::vec((0u8..6, 1u8..4), 1..12), 1..10)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        rt.block_on(async {
            let test = sled_store_with_segments(1_024).await;
            store::conformance::random_interleavings_keep_the_log_dense(test.store.clone(), plan).await;
        });
    }
}
