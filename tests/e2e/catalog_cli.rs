//! `rollout catalog import` and `rollout service start`, as an operator runs them.

use std::path::{Path, PathBuf};

use crate::support::rollout;

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn the_bundled_data_imports_once_and_services_start_once() {
    let tmp = tempfile::tempdir().expect("dir");
    let dir = tmp.path().join("store");
    let out = rollout(&["catalog", "import", "--data-dir", s(&dir), s(&data())]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("imported: 264 events\n"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("dissolved 120735310000: 0 rollouts moved to successors, 0 ended"));
    let again = rollout(&["catalog", "import", "--data-dir", s(&dir), s(&data())]);
    assert_eq!(text(&again.stdout), "imported: 0 events\n");
    let start = rollout(&["service", "start", "--data-dir", s(&dir), "kfz_zulassung"]);
    assert_eq!(
        text(&start.stdout),
        "started 19 rollouts of `kfz_zulassung`; 0 existed already\n",
        "{}",
        text(&start.stderr)
    );
    let repeat = rollout(&["service", "start", "--data-dir", s(&dir), "kfz_zulassung"]);
    assert_eq!(text(&repeat.stdout), "started 0 rollouts of `kfz_zulassung`; 19 existed already\n");
    let unknown = rollout(&["service", "start", "--data-dir", s(&dir), "kfz"]);
    assert_eq!(text(&unknown.stderr), "error: there is no service `kfz`\n");
    let verify = rollout(&["verify", "--data-dir", s(&dir)]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
}

#[test]
fn a_bad_row_imports_nothing_and_is_named() {
    let tmp = tempfile::tempdir().expect("dir");
    let files = tmp.path().join("data");
    std::fs::create_dir(&files).expect("dir");
    for entry in std::fs::read_dir(data()).expect("data") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            std::fs::copy(&path, files.join(path.file_name().expect("name"))).expect("copy");
        }
    }
    let services = files.join("efa_services.csv");
    let changed = std::fs::read_to_string(&services).expect("read").replacen(",landkreis_kfs,", ",kreis,", 1);
    std::fs::write(&services, changed).expect("write");
    let dir = tmp.path().join("store");
    let out = rollout(&["catalog", "import", "--data-dir", s(&dir), s(&files)]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("efa_services.csv:2:15 (zustaendige_ebene_bb_annahme): unknown level `kreis`"),
        "{err}"
    );
    assert!(err.trim_end().ends_with("nothing was imported"), "{err}");
    assert!(!dir.exists(), "no store was created for a refused import");
    let missing = rollout(&["catalog", "import", "--data-dir", s(&dir), "/no/such/dir"]);
    assert!(
        text(&missing.stderr).contains("/no/such/dir/brandenburg_verwaltungstraeger.csv: No such file"),
        "{}",
        text(&missing.stderr)
    );
}

#[test]
fn without_a_folder_the_built_in_data_is_imported() {
    let tmp = tempfile::tempdir().expect("dir");
    let builtin = tmp.path().join("a");
    let files = tmp.path().join("b");
    let out = rollout(&["catalog", "import", "--data-dir", s(&builtin)]);
    assert!(text(&out.stdout).starts_with("imported: 264 events\n"), "{}", text(&out.stderr));
    rollout(&["catalog", "import", "--data-dir", s(&files), s(&data())]);
    // The same catalogue either way: importing the files into the built-in store appends nothing.
    let again = rollout(&["catalog", "import", "--data-dir", s(&builtin), s(&data())]);
    assert_eq!(text(&again.stdout), "imported: 0 events\n");
}

#[test]
fn rebuild_writes_a_checkpoint_equal_to_a_fold_of_the_log() {
    let tmp = tempfile::tempdir().expect("dir");
    let dir = tmp.path().join("store");
    assert!(rollout(&["catalog", "import", "--data-dir", s(&dir)]).status.success());
    assert!(rollout(&["service", "start", "--data-dir", s(&dir), "wohngeld"]).status.success());
    let out = rollout(&["rebuild", "--data-dir", s(&dir)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        // The eleven bundled definitions' publications, 264 catalogue events, 20 rollouts' (the
        // Land's, 18 Landkreise and kreisfreie Städte, Fürstenwalde/Spree by its exception).
        text(&out.stdout).starts_with("rebuilt read models: 295 events, 20 rollouts; checkpoint "),
        "{}",
        text(&out.stdout)
    );
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let store: std::sync::Arc<dyn store::EventStore> = std::sync::Arc::new(
            store_sled::SledStore::open(store_sled::SledConfig::new(&dir)).expect("open"),
        );
        let registry = std::sync::Arc::new(engine::definitions::bundled().expect("bundled"));
        let (p, start) = projections::Projector::start(
            store.clone(),
            registry.clone(),
            Some(dir.join("readmodel.checkpoint").into()),
        )
        .await
        .expect("start");
        assert_eq!(start, projections::Start::Resumed(295));
        let folded =
            projections::fold(&store, &*registry, projections::Cut::Everything, |_| {}).await.expect("fold");
        p.read(|m| assert!(*m == folded, "the checkpoint equals a fold of the log"));
    });
    let missing = rollout(&["rebuild", "--data-dir", s(&tmp.path().join("none"))]);
    assert!(text(&missing.stderr).starts_with("error: there is no store in"), "{}", text(&missing.stderr));
}

/// A store written by release 32 (before responsibility and offers; `tests/fixtures/`) imports
/// into today's binary, takes the catalogue's statuses and exceptions, migrates — every old
/// rollout's administration recorded as interested, once — verifies, and its figures count
/// administrations: Wohngeld's 18 old rollouts interested, Fürstenwalde/Spree responsible
/// without an answer, the Land's central rollout no administration.
#[test]
fn a_store_of_release_32_imports_migrates_and_verifies() {
    let tmp = tempfile::tempdir().expect("dir");
    let dir = tmp.path().join("store");
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/release-32.ndjson");
    let imported = rollout(&["import", "--data-dir", s(&dir), s(&fixture)]);
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    assert!(rollout(&["verify", "--data-dir", s(&dir)]).status.success(), "the old log verifies");
    let catalog = rollout(&["catalog", "import", "--data-dir", s(&dir)]);
    assert!(catalog.status.success(), "{}", text(&catalog.stderr));
    // The eleven statuses and Fürstenwalde/Spree's exception for Wohngeld.
    assert!(text(&catalog.stdout).starts_with("imported: 12 events\n"), "{}", text(&catalog.stdout));
    let migrated = rollout(&["service", "migrate-responsibility", "--data-dir", s(&dir)]);
    assert!(migrated.status.success(), "{}", text(&migrated.stderr));
    assert_eq!(
        text(&migrated.stdout),
        "36 Rollouts: Interesse erfasst; 0 Verwaltungen als zuständig erfasst; 0 waren es schon\n",
        "18 Landkreise and kreisfreie Städte for each of the two services"
    );
    let again = rollout(&["service", "migrate-responsibility", "--data-dir", s(&dir)]);
    assert_eq!(
        text(&again.stdout),
        "0 Rollouts: Interesse erfasst; 0 Verwaltungen als zuständig erfasst; 36 waren es schon\n"
    );
    let verify = rollout(&["verify", "--data-dir", s(&dir)]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
    let rebuilt = rollout(&["rebuild", "--data-dir", s(&dir)]);
    assert!(rebuilt.status.success(), "{}", text(&rebuilt.stderr));

    let token = rollout(&[
        "token",
        "create",
        "--data-dir",
        s(&dir),
        "--name",
        "Prüfung",
        "--role",
        "project-manager",
    ]);
    assert!(token.status.success(), "{}", text(&token.stderr));
    let token = text(&token.stdout).trim().to_owned();
    let server = crate::support::Server::spawn(&dir, tempfile::tempdir().expect("dir"));
    let figures = server.gql(
        Some(&token),
        "{ progress(groupBy: SERVICE) { key rollouts responsible interested noAnswer onboarding inOperation } }",
        serde_json::json!({}),
    );
    assert_eq!(
        figures["data"]["progress"],
        serde_json::json!([
            { "key": "kfz_zulassung", "rollouts": 18, "responsible": 18, "interested": 18, "noAnswer": 0, "onboarding": 18, "inOperation": 0 },
            { "key": "wohngeld", "rollouts": 18, "responsible": 19, "interested": 18, "noAnswer": 1, "onboarding": 18, "inOperation": 0 },
        ]),
        "{figures}"
    );
}
