#![no_main]
//! Any text given to the condition parser gives a condition or an error, never a panic; a
//! parsed condition evaluates.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(c) = workflow::Condition::parse(text) {
        let _ = c.eval(&workflow::Facts::default());
        let _ = c.constant();
    }
});
