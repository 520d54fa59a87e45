//! Snapshot tests of the diagnostics for broken definition files: each `tests/diagnostics/*.toml`
//! has a `.expected` file with what `rollout workflow check` prints for it.
//! `UPDATE_EXPECT=1 cargo test -p workflow --test it -- diagnostics::` rewrites them after a deliberate change.

use std::path::Path;

use workflow::definition::parse;
use workflow::limits::DEFINITION_BYTES_MAX;

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

#[test]
fn the_size_limits_of_a_definition_are_enforced() {
    use workflow::limits::{DEPENDENCIES_PER_STEP_MAX, FIELDS_PER_STEP_MAX, PHASES_MAX, STEPS_MAX};
    let head = "id = \"gross\"\nversion = 1\ntitle = \"Groß\"\n";
    let step = |id: &str, extra: &str| {
        format!("[[phases.steps]]\nid = \"{id}\"\ntitle = \"S\"\nroles = [\"authority-staff\"]\n{extra}\n")
    };
    // One phase too many.
    let mut src = head.to_owned();
    for p in 0..=PHASES_MAX {
        src += &format!("[[phases]]\nid = \"p{p}\"\ntitle = \"P\"\n{}", step(&format!("s{p}"), ""));
    }
    assert!(
        render("a.toml", src.as_bytes()).contains(&format!("a definition has at most {PHASES_MAX} phases"))
    );
    // One step too many.
    let mut src = head.to_owned() + "[[phases]]\nid = \"p\"\ntitle = \"P\"\n";
    for i in 0..=STEPS_MAX {
        src += &step(&format!("s{i}"), "");
    }
    assert!(render("b.toml", src.as_bytes()).contains(&format!("a definition has at most {STEPS_MAX} steps")));
    // Too many evidence fields and dependencies on one step.
    let fields: Vec<String> = (0..=FIELDS_PER_STEP_MAX)
        .map(|i| format!("{{ id = \"f{i}\", label = \"F\", type = \"text\" }}"))
        .collect();
    let deps: Vec<String> = (0..=DEPENDENCIES_PER_STEP_MAX).map(|i| format!("\"d{i}\"")).collect();
    let src = head.to_owned()
        + "[[phases]]\nid = \"p\"\ntitle = \"P\"\n"
        + &step("s", &format!("evidence = [{}]\ndepends_on = [{}]", fields.join(", "), deps.join(", ")));
    let out = render("c.toml", src.as_bytes());
    assert!(out.contains(&format!("a step has at most {FIELDS_PER_STEP_MAX} evidence fields")), "{out}");
    assert!(out.contains(&format!("a step has at most {DEPENDENCIES_PER_STEP_MAX} dependencies")), "{out}");
}

#[test]
fn the_size_limits_of_a_condition_are_enforced() {
    use workflow::condition::Condition;
    use workflow::limits::{CONDITION_CHARS_MAX, CONDITION_DEPTH_MAX, LIST_ITEMS_MAX};
    let long = format!("service.key == \"{}\"", "x".repeat(CONDITION_CHARS_MAX));
    assert!(Condition::parse(&long).expect_err("too long").message.contains("at most"));
    let deep = format!(
        "{}service.fee_based{}",
        "(".repeat(CONDITION_DEPTH_MAX + 1),
        ")".repeat(CONDITION_DEPTH_MAX + 1)
    );
    assert!(Condition::parse(&deep).expect_err("too deep").message.contains("less nesting"));
    let nots = format!("{}service.fee_based", "not ".repeat(CONDITION_DEPTH_MAX + 1));
    assert!(Condition::parse(&nots).expect_err("too deep").message.contains("less nesting"));
    let items: Vec<String> = (0..=LIST_ITEMS_MAX).map(|i| format!("\"k{i}\"")).collect();
    let list = format!("service.key in [{}]", items.join(", "));
    assert!(Condition::parse(&list)
        .expect_err("too many")
        .message
        .contains(&format!("at most {LIST_ITEMS_MAX} values")));
    // Just inside the limits is fine.
    let ok = format!(
        "{}service.fee_based{}",
        "(".repeat(CONDITION_DEPTH_MAX - 1),
        ")".repeat(CONDITION_DEPTH_MAX - 1)
    );
    assert!(Condition::parse(&ok).is_ok());
}
