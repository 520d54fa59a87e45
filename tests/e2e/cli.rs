//! The `rollout` binary's store commands, run as a user runs them.

use std::path::Path;
use std::process::Output;

use crate::support::rollout;

use store::{Actor, ActorKind, EventStore, ExpectedVersion, Json, NewEvent};
use store_sled::{SledConfig, SledStore};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A failure is one clear line on stderr and a non-zero exit, never a panic.
fn assert_fails_with(out: &Output, says: &str) {
    let err = stderr(out);
    assert!(!out.status.success(), "should fail; stderr: {err}");
    assert!(err.contains(says), "stderr should say `{says}`: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked") && !err.contains("internal error"), "{err}");
}

fn fill(dir: &Path, count: u64) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let store = SledStore::open(SledConfig::new(dir)).expect("open");
        let actor = Actor {
            id: "person:p".into(),
            name: "Petra Projekt".into(),
            kind: ActorKind::Person,
            person: None,
        };
        for n in 0..count {
            let data =
                Json::from_value(&serde_json::json!({ "n": n, "note": "Zustellpunkt für Wohngeld – ÄÖÜß" }));
            let event = NewEvent::new("TestHappened", 1, data, actor.clone(), uuid::Uuid::now_v7());
            store.append(&format!("s-{}", n % 4), ExpectedVersion::Any, vec![event]).await.expect("append");
        }
    });
}

fn dir_arg(dir: &Path) -> String {
    dir.display().to_string()
}

#[test]
fn export_import_export_gives_identical_bytes() {
    let tmp = tempfile::tempdir().expect("dir");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    fill(&a, 2_500);
    let first = tmp.path().join("first.ndjson");
    let out = rollout(&["export", "--data-dir", &dir_arg(&a), "--out", &dir_arg(&first)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = rollout(&["import", "--data-dir", &dir_arg(&b), &dir_arg(&first)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "imported 2500 events");
    let second = rollout(&["export", "--data-dir", &dir_arg(&b)]);
    assert!(second.status.success());
    let first = std::fs::read(&first).expect("read");
    assert_eq!(first.len(), second.stdout.len());
    assert!(first == second.stdout, "export → import → export changed bytes");
    assert_eq!(first.iter().filter(|&&b| b == b'\n').count(), 2_500);
    let verify = rollout(&["verify", "--data-dir", &dir_arg(&b)]);
    assert!(verify.status.success(), "{}", stderr(&verify));
}

/// Exports 10 events, lets `edit` change the lines, imports the result into a fresh store.
fn import_edited(edit: impl FnOnce(&mut Vec<String>)) -> (Output, tempfile::TempDir) {
    let tmp = tempfile::tempdir().expect("dir");
    fill(&tmp.path().join("src"), 10);
    let out = rollout(&["export", "--data-dir", &dir_arg(&tmp.path().join("src"))]);
    assert!(out.status.success() && !out.stdout.is_empty(), "the export to edit: {}", stderr(&out));
    let mut lines: Vec<String> =
        String::from_utf8(out.stdout).expect("utf8").lines().map(String::from).collect();
    edit(&mut lines);
    let file = tmp.path().join("edited.ndjson");
    std::fs::write(&file, lines.join("\n") + "\n").expect("write");
    let out = rollout(&["import", "--data-dir", &dir_arg(&tmp.path().join("dst")), &dir_arg(&file)]);
    (out, tmp)
}

fn assert_nothing_imported(tmp: &tempfile::TempDir) {
    let out = rollout(&["export", "--data-dir", &dir_arg(&tmp.path().join("dst"))]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "nothing may be imported from a bad file");
}

#[test]
fn import_refuses_a_changed_event_and_names_the_line() {
    let (out, tmp) = import_edited(|lines| lines[6] = lines[6].replace("\"n\":6", "\"n\":7"));
    assert_fails_with(&out, "edited.ndjson:7: the content does not match its hash");
    assert_nothing_imported(&tmp);
}

#[test]
fn import_refuses_reordered_removed_and_garbled_lines() {
    let (out, tmp) = import_edited(|lines| lines.swap(3, 4));
    assert_fails_with(&out, ":4: expected position 4, found position 5");
    assert_nothing_imported(&tmp);
    let (out, _) = import_edited(|lines| drop(lines.remove(8)));
    assert_fails_with(&out, ":9: expected position 9, found position 10");
    let (out, _) = import_edited(|lines| lines[1] = "{not json".into());
    assert_fails_with(&out, ":2: not an event");
    let (out, _) = import_edited(|lines| lines[0] = lines[0].replacen('{', "{\"extra\":1,", 1));
    assert_fails_with(&out, ":1: not an event: unknown field `extra`");
}

#[test]
fn import_refuses_an_event_recorded_before_the_one_before_it() {
    // Line 5 re-hashed with a time just before line 4's: every link holds but the time.
    let (out, tmp) = import_edited(|lines| {
        let before: store::RecordedEvent = serde_json::from_str(&lines[3]).expect("event");
        let mut event: store::RecordedEvent = serde_json::from_str(&lines[4]).expect("event");
        event.recorded_at = store::Timestamp::from_unix_micros(before.recorded_at.unix_micros() - 1);
        event.hash = store::event_hash(&event);
        lines[4] = serde_json::to_string(&event).expect("json");
    });
    assert_fails_with(&out, "edited.ndjson:5: it was recorded at");
    assert_fails_with(&out, "before the event before it");
    assert_nothing_imported(&tmp);
}

#[test]
fn import_refuses_binary_garbage() {
    let tmp = tempfile::tempdir().expect("dir");
    let file = tmp.path().join("garbage.bin");
    std::fs::write(&file, [0xff, 0xfe, 0x00, 0x81, b'\n', 0x00]).expect("write");
    let out = rollout(&["import", "--data-dir", &dir_arg(&tmp.path().join("dst")), &dir_arg(&file)]);
    assert_fails_with(&out, "garbage.bin:1:");
}

#[test]
fn import_refuses_a_non_empty_store() {
    let tmp = tempfile::tempdir().expect("dir");
    fill(&tmp.path().join("a"), 3);
    let file = tmp.path().join("a.ndjson");
    assert!(rollout(&["export", "--data-dir", &dir_arg(&tmp.path().join("a")), "--out", &dir_arg(&file)])
        .status
        .success());
    let out = rollout(&["import", "--data-dir", &dir_arg(&tmp.path().join("a")), &dir_arg(&file)]);
    assert_fails_with(&out, "the store is not empty (it holds 3 events)");
}

#[test]
fn verify_reports_a_tampered_store_by_position() {
    let tmp = tempfile::tempdir().expect("dir");
    fill(tmp.path(), 30);
    let out = rollout(&["verify", "--data-dir", &dir_arg(tmp.path())]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok: 30 events, head hash "));
    // Event 17 cut out of its segment (the open one: 30 events fill no segment).
    let segment = tmp.path().join("segments").join(format!("{:020}.seg", 1));
    let mut bytes = std::fs::read(&segment).expect("segment");
    let mut at = 0;
    for _ in 1..17 {
        at += 4 + u32::from_be_bytes(bytes[at..at + 4].try_into().expect("length")) as usize;
    }
    let len = 4 + u32::from_be_bytes(bytes[at..at + 4].try_into().expect("length")) as usize;
    bytes.drain(at..at + len);
    std::fs::write(&segment, bytes).expect("write");
    let out = rollout(&["verify", "--data-dir", &dir_arg(tmp.path())]);
    assert_fails_with(&out, &format!("the log is damaged: {} at byte {at} (event 17)", segment.display()));
    assert_fails_with(&out, "it holds event 18 where event 17 belongs");
}

#[test]
fn commands_on_a_busy_or_missing_store_fail_clearly() {
    let tmp = tempfile::tempdir().expect("dir");
    let out = rollout(&["verify", "--data-dir", &dir_arg(&tmp.path().join("nothing"))]);
    assert_fails_with(&out, "there is no store in");
    fill(tmp.path(), 1);
    let _held = SledStore::open(SledConfig::new(tmp.path())).expect("open");
    let out = rollout(&["verify", "--data-dir", &dir_arg(tmp.path())]);
    assert_fails_with(&out, "is in use by another process");
    let file = tmp.path().join("some.ndjson");
    std::fs::write(&file, "").expect("write");
    let out = rollout(&["import", "--data-dir", &dir_arg(tmp.path()), &dir_arg(&file)]);
    assert_fails_with(&out, "is in use by another process");
}

#[test]
fn import_of_a_missing_file_names_it() {
    let tmp = tempfile::tempdir().expect("dir");
    let out = rollout(&["import", "--data-dir", &dir_arg(&tmp.path().join("new")), "/no/such/file.ndjson"]);
    assert_fails_with(&out, "/no/such/file.ndjson");
    assert!(!tmp.path().join("new").exists(), "a failed import creates no store");
}

/// `--out` naming a device (or a pipe) writes into it; the export never replaces it with a file.
#[test]
fn export_to_a_device_writes_into_it_and_leaves_it_a_device() {
    use std::os::unix::fs::FileTypeExt as _;
    let tmp = tempfile::tempdir().expect("dir");
    let a = tmp.path().join("a");
    fill(&a, 3);
    let out = rollout(&["export", "--data-dir", &dir_arg(&a), "--out", "/dev/null"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        std::fs::metadata("/dev/null").expect("/dev/null").file_type().is_char_device(),
        "/dev/null is still a device"
    );
    assert!(!Path::new("/dev/null.partial").exists());
}
