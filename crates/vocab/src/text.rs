//! Text a person would write: what every text input must hold and must not.
//!
//! Refused anywhere: control characters other than tab, line feed and carriage return (NUL,
//! U+0001…, DEL, the C1 block), bidirectional embeddings, overrides and isolates (U+202A–U+202E,
//! U+2066–U+2069: they make a text display in another order than it is stored), invisible
//! spaces and joiners that no keyboard types (U+200B, U+2060–U+2064, U+FEFF), and the
//! noncharacters U+FFFE/U+FFFF. Zero-width joiner and non-joiner (U+200C, U+200D) and the
//! left-to-right and right-to-left marks stay allowed: scripts and emoji need them — but a
//! required text must hold at least one visible character ([`has_visible`]).

/// The first character of `value` that no text input may hold: its position (in characters,
/// from 1) and the character.
pub fn forbidden_char(value: &str) -> Option<(usize, char)> {
    value.chars().enumerate().find(|(_, c)| forbidden(*c)).map(|(i, c)| (i + 1, c))
}

fn forbidden(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{200b}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}'
        | '\u{feff}' | '\u{fffe}' | '\u{ffff}')
}

/// Whether `value` holds a character a reader sees: not white space, not a format character
/// (zero-width joiners and marks, the soft hyphen), not a control character.
pub fn has_visible(value: &str) -> bool {
    value.chars().any(|c| {
        !c.is_whitespace()
            && !c.is_control()
            && !forbidden(c)
            && !matches!(c, '\u{ad}' | '\u{200c}'..='\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{180e}')
    })
}

/// A refused character as a German error names it: `U+0001 (Steuerzeichen)`.
pub fn describe(c: char) -> String {
    let kind = match c {
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => "Steuerzeichen",
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => "Richtungssteuerzeichen",
        _ => "unsichtbares Zeichen",
    };
    format!("U+{:04X} ({kind})", u32::from(c))
}

/// Why `value` is refused as the text `what` (German), if it is.
pub fn problem(value: &str, what: &str) -> Option<String> {
    forbidden_char(value)
        .map(|(at, c)| format!("{what} enthält an Stelle {at} ein unzulässiges Zeichen: {}", describe(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_person_writes_passes_and_hidden_characters_do_not() {
        for ok in ["Bürgerbüro", "Zeile 1\nZeile 2\tTab\r\n", "👩‍💻 Team", "עברית", "ſ ß ẞ", ""]
        {
            assert_eq!(forbidden_char(ok), None, "{ok:?}");
        }
        for (bad, at) in [
            ("a\u{0}b", 2),
            ("\u{1}", 1),
            ("x\u{202e}gnp.exe", 2),
            ("\u{200b}", 1),
            ("a\u{7f}", 2),
            ("\u{feff}x", 1),
        ] {
            assert_eq!(forbidden_char(bad).map(|(i, _)| i), Some(at), "{bad:?}");
        }
        assert!(problem("a\u{1}", "Der Kommentar").is_some_and(|p| p.contains("U+0001 (Steuerzeichen)")));
    }

    #[test]
    fn a_required_text_needs_a_visible_character() {
        for empty in ["", " \t\n", "\u{200d}", "\u{200c}\u{200e}", "\u{ad}", "\u{3000}"] {
            assert!(!has_visible(empty), "{empty:?}");
        }
        for seen in ["a", " x ", "·", "😀", "\u{200d}b"] {
            assert!(has_visible(seen), "{seen:?}");
        }
    }
}
