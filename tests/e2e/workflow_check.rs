//! `rollout workflow check`, as a project manager runs it.

use std::process::{Command, Output};

fn check(files: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rollout"))
        .arg("workflow")
        .arg("check")
        .args(files)
        .output()
        .expect("run rollout")
}

fn workflows(name: &str) -> String {
    format!("{}/../../workflows/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_bundled_definitions_pass() {
    let files: Vec<String> = [
        "efa-onboarding.toml",
        "efa-onboarding-bund.toml",
        "efa-land.toml",
        "formularserver-muster.toml",
        "formularserver-assistent.toml",
        "archive/efa-onboarding.v1.toml",
        "archive/formularserver-assistent.v1.toml",
    ]
    .iter()
    .map(|f| workflows(f))
    .collect();
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    let out = check(&refs);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok: ")).count(), 7, "{stdout}");
}

#[test]
fn every_problem_is_reported_with_its_position_and_the_exit_code_says_so() {
    let tmp = tempfile::tempdir().expect("dir");
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        "id = \"x\"\nversion = 1\ntitle = \"X\"\ntypo = 1\n\n[[phases]]\nid = \"p\"\ntitle = \"P\"\n",
    )
    .expect("write");
    let garbage = tmp.path().join("garbage.toml");
    std::fs::write(&garbage, [0u8, 159, 146, 150]).expect("write");
    let huge = tmp.path().join("huge.toml");
    std::fs::write(&huge, vec![b'#'; 2 * 1024 * 1024]).expect("write");
    let out = check(&[
        bad.to_str().expect("path"),
        garbage.to_str().expect("path"),
        huge.to_str().expect("path"),
        "/no/such.toml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:4:1: unknown key `typo` in the definition"), "{err}");
    assert!(err.contains("bad.toml:6:1: phase `p` has no steps"), "{err}");
    assert!(err.contains("garbage.toml:1:2: the file is not UTF-8 text"), "{err}");
    assert!(err.contains("huge.toml: the file is larger than 1048576 bytes"), "{err}");
    assert!(err.contains("/no/such.toml: No such file or directory"), "{err}");
    assert!(err.trim_end().ends_with("error: 5 problem(s) in 4 file(s)"), "{err}");
    assert!(!err.contains("panicked"));
}

#[test]
fn land_dependencies_are_checked_against_the_land_definition() {
    let tmp = tempfile::tempdir().expect("dir");
    let onboarding = std::fs::read_to_string(workflows("efa-onboarding.toml")).expect("read");
    let changed = tmp.path().join("efa-onboarding.toml");
    std::fs::write(&changed, onboarding.replace("land:fit_store_vertrag", "land:fit_store_vetrag"))
        .expect("write");
    let land = workflows("efa-land.toml");
    let out = check(&[changed.to_str().expect("path"), &land]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("depends on `land:fit_store_vetrag`, but `efa-land` has no step `fit_store_vetrag`"),
        "{err}"
    );
}

#[test]
fn publish_appends_a_checked_text_once_and_refuses_a_bad_one_with_its_positions() {
    use crate::support::rollout;
    let tmp = tempfile::tempdir().expect("dir");
    let dir = tmp.path().join("store");
    let d = dir.to_str().expect("path");
    assert!(rollout(&["catalog", "import", "--data-dir", d]).status.success());
    let events = |d: &str| {
        let out = rollout(&["export", "--data-dir", d]);
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let before = events(d);
    let onboarding = std::fs::read_to_string(workflows("archive/efa-onboarding.v1.toml")).expect("read");
    let xta = tmp.path().join("xta.toml");
    std::fs::write(&xta, onboarding.replacen("id = \"efa-onboarding\"", "id = \"efa-onboarding-xta\"", 1))
        .expect("write");
    let x = xta.to_str().expect("path");

    let out = rollout(&["workflow", "publish", "--data-dir", d, x, "--reason", "OSCI/XTA"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("published efa-onboarding-xta@1 at position "), "{stdout}");
    assert_eq!(events(d), before + 1);
    let again = rollout(&["workflow", "publish", "--data-dir", d, x, "--reason", "nochmal"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing appended"), "{again:?}");
    assert_eq!(events(d), before + 1, "the same text again appends nothing");

    // Changed under the same version: refused. Invalid: every problem at FILE:LINE:COLUMN.
    std::fs::write(
        &xta,
        onboarding
            .replacen("id = \"efa-onboarding\"", "id = \"efa-onboarding-xta\"", 1)
            .replace("Interesse bekundet", "Interesse gemeldet"),
    )
    .expect("write");
    let changed = rollout(&["workflow", "publish", "--data-dir", d, x, "--reason", "Wortlaut"]);
    assert!(!changed.status.success());
    assert!(
        String::from_utf8_lossy(&changed.stderr)
            .contains("published with other content; a changed text needs a new version"),
        "{changed:?}"
    );
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "id = \"x\"\nversion = 1\ntitle = \"X\"\ntypo = 1\n").expect("write");
    let refused =
        rollout(&["workflow", "publish", "--data-dir", d, bad.to_str().expect("path"), "--reason", "x"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("bad.toml:4:1: unknown key `typo`"), "{stderr}");
    assert!(stderr.contains("nothing was published"), "{stderr}");
    assert_eq!(events(d), before + 1, "nothing appended on a problem");
    let log = String::from_utf8_lossy(&rollout(&["export", "--data-dir", d]).stdout).into_owned();
    assert_eq!(
        log.matches("\"type\":\"DefinitionPublished\"").count(),
        12,
        "the eleven bundled texts and the variant"
    );
}

#[test]
fn a_variant_is_checked_merged_with_its_base_and_a_problem_in_the_base_is_shown_there() {
    let tmp = tempfile::tempdir().expect("dir");
    let xta = tmp.path().join("xta.toml");
    let text = "id = \"efa-onboarding-xta\"\nversion = 1\nextends = \"efa-onboarding@1\"\nremove = [\"zertifikate\"]\n\n[[phases]]\nid = \"technik\"\n\n[[phases.steps]]\nid = \"xta_postfach\"\ntitle = \"XTA-Postfach\"\nroles = [\"authority-staff\"]\ndepends_on = [\"transportweg\"]\n";
    std::fs::write(&xta, text).expect("write");
    let out = check(&[xta.to_str().expect("path")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(&format!("efa-onboarding@1 (the base of {}):157:", xta.display())), "{stderr}");
    std::fs::write(&xta, text.replace("remove = [\"zertifikate\"]\n", "")).expect("write");
    let out = check(&[xta.to_str().expect("path")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("efa-onboarding-xta version 1"), "{out:?}");
}
