//! Snapshot tests of the diagnostics for broken definition files: each `tests/diagnostics/*.toml`
//! has a `.expected` file with what `rollout workflow check` prints for it.
//! `UPDATE_EXPECT=1 cargo test -p workflow --test diagnostics` rewrites them after a deliberate change.

use std::path::Path;

use workflow::definition::{parse, DEFINITION_BYTES_MAX};

fn render(name: &str, bytes: &[u8]) -> String {
    match parse(bytes) {
        Ok(_) => "valid\n".into(),
        Err(diags) => {
            let source = String::from_utf8_lossy(bytes);
            diags.iter().map(|d| d.render(name, &source) + "\n").collect()
        }
    }
}

#[test]
fn broken_definitions_get_every_problem_with_its_position() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut checked = 0;
    let mut entries: Vec<_> =
        std::fs::read_dir(&dir).expect("dir").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for path in entries.into_iter().filter(|p| p.extension().is_some_and(|e| e == "toml")) {
        let name = path.file_name().expect("name").to_string_lossy().into_owned();
        let actual = render(&name, &std::fs::read(&path).expect("read"));
        let expected_path = path.with_extension("expected");
        if update {
            std::fs::write(&expected_path, &actual).expect("write");
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        assert_eq!(actual, expected, "diagnostics of {name} changed (UPDATE_EXPECT=1 to accept)");
        checked += 1;
    }
    assert!(checked >= 4);
}

#[test]
fn binary_garbage_and_huge_files_get_one_clear_error() {
    assert_eq!(
        render("x.toml", &[0x00, 0xff, 0xfe, 0x13]),
        "x.toml:1:2: the file is not UTF-8 text (invalid byte at offset 1)\n"
    );
    let huge = vec![b'#'; DEFINITION_BYTES_MAX + 1];
    assert!(render("big.toml", &huge).contains("a definition has at most 1048576"));
}
