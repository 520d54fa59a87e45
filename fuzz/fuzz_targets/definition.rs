#![no_main]
//! Any bytes given to the definition parser give a definition or diagnostics, never a panic;
//! every diagnostic renders.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Err(diagnostics) = workflow::parse(bytes) {
        let text = String::from_utf8_lossy(bytes);
        for d in diagnostics {
            let _ = d.render("fuzz.toml", &text);
        }
    }
});
