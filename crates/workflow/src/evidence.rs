//! Evidence (Nachweis): the typed data a step records, and the check of each value.

use serde_json::Value as Json;

use crate::limits::{DOCUMENT_REF_CHARS_MAX, EVIDENCE_TEXT_CHARS_MAX};

/// The example value of a `person` field (the domain checks only the form; the engine checks
/// that the person is registered and not erased).
pub const EXAMPLE_PERSON: &str = "00000000-0000-7000-8000-000000000000";

/// The type of an evidence field, as named in a definition file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// Free text.
    Text,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// An http(s) address.
    Url,
    /// An e-mail address, meant for an organisation's function mailbox (a person is a contact
    /// field of its own).
    Email,
    /// A UUID, e.g. a FIT-Connect destination id.
    Uuid,
    /// A LeiKa key: 14 digits starting with 99.
    LeikaKey,
    /// An ARS: 12 digits.
    Ars,
    /// A reference to a document (file number, DMS id).
    DocumentRef,
    /// One of the listed values.
    Enumeration(Vec<String>),
    Boolean,
    Number,
    /// A registered person (contact), by id: the person's values are kept encrypted and
    /// erasable in the person's record, never in the evidence.
    Person,
}

impl FieldType {
    /// The names used in definition files.
    pub const NAMES: &'static [&'static str] = &[
        "text", "date", "url", "email", "uuid", "leika", "ars", "document", "enum", "boolean", "number",
        "person",
    ];

    /// The type called `name` (an enumeration gets its values separately).
    pub fn from_name(name: &str, values: Vec<String>) -> Option<FieldType> {
        Some(match name {
            "text" => FieldType::Text,
            "date" => FieldType::Date,
            "url" => FieldType::Url,
            "email" => FieldType::Email,
            "uuid" => FieldType::Uuid,
            "leika" => FieldType::LeikaKey,
            "ars" => FieldType::Ars,
            "document" => FieldType::DocumentRef,
            "enum" => FieldType::Enumeration(values),
            "boolean" => FieldType::Boolean,
            "number" => FieldType::Number,
            "person" => FieldType::Person,
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Date => "date",
            FieldType::Url => "url",
            FieldType::Email => "email",
            FieldType::Uuid => "uuid",
            FieldType::LeikaKey => "leika",
            FieldType::Ars => "ars",
            FieldType::DocumentRef => "document",
            FieldType::Enumeration(_) => "enum",
            FieldType::Boolean => "boolean",
            FieldType::Number => "number",
            FieldType::Person => "person",
        }
    }

    /// A valid example value (for demo data, benchmarks and documentation); `ars` is used for
    /// ARS fields.
    pub fn example(&self, ars: &str) -> Json {
        match self {
            FieldType::Text => Json::String("Frau Beispiel".into()),
            FieldType::Date => Json::String("2026-10-15".into()),
            FieldType::Url => Json::String("https://service.brandenburg.de/".into()),
            FieldType::Email => Json::String("onlinedienste@verwaltung.example".into()),
            FieldType::Uuid => Json::String("4f6bd8b0-6b5e-4c7a-9d1e-2f0c1a7e3b11".into()),
            FieldType::LeikaKey => Json::String("99107023017000".into()),
            FieldType::Ars => Json::String(ars.into()),
            FieldType::DocumentRef => Json::String("AZ 2026/0815".into()),
            FieldType::Enumeration(values) => Json::String(values.first().cloned().unwrap_or_default()),
            FieldType::Boolean => Json::Bool(true),
            FieldType::Number => Json::from(1),
            FieldType::Person => Json::String(EXAMPLE_PERSON.into()),
        }
    }

    /// For text-like types: a regular expression (the HTML `pattern` dialect, matching the whole
    /// value) that valid values match — for a form to check before sending; `check` decides.
    pub fn pattern(&self) -> Option<&'static str> {
        match self {
            FieldType::LeikaKey => Some("99[0-9]{12}"),
            FieldType::Ars => Some("[0-9]{12}"),
            FieldType::Email => Some("[^@\\s]+@[^@\\s]+\\.[^@\\s]+"),
            FieldType::Uuid | FieldType::Person => {
                Some("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
            }
            _ => None,
        }
    }

    /// For text-like types: characters at most.
    pub fn max_chars(&self) -> Option<usize> {
        match self {
            FieldType::Text => Some(EVIDENCE_TEXT_CHARS_MAX),
            FieldType::Email => Some(EMAIL_CHARS_MAX),
            FieldType::DocumentRef => Some(DOCUMENT_REF_CHARS_MAX),
            _ => None,
        }
    }

    /// Checks one value; the message says what is wrong in words a user understands.
    pub fn check(&self, value: &Json) -> Result<(), String> {
        let text = || value.as_str().ok_or_else(|| format!("must be text, not {}", json_kind(value)));
        match self {
            FieldType::Text => {
                let t = text()?;
                if let Some(problem) = vocab::text::problem(t, "der Text") {
                    return Err(problem);
                }
                if !vocab::text::has_visible(t) {
                    return Err("must not be empty".into());
                }
                if t.chars().count() > EVIDENCE_TEXT_CHARS_MAX {
                    return Err(format!("has more than {EVIDENCE_TEXT_CHARS_MAX} characters"));
                }
            }
            FieldType::Date => check_date(text()?)?,
            FieldType::Url => check_url(text()?)?,
            FieldType::Email => check_email(text()?)?,
            FieldType::Uuid => {
                let t = text()?;
                uuid::Uuid::parse_str(t).map_err(|_| format!("{t:?} is not a UUID"))?;
            }
            FieldType::Person => {
                let t = text()?;
                uuid::Uuid::parse_str(t)
                    .map_err(|_| format!("{t:?} is not a person id (a UUID from registerPerson)"))?;
            }
            FieldType::LeikaKey => {
                let t = text()?;
                if !(t.len() == 14 && t.starts_with("99") && t.bytes().all(|b| b.is_ascii_digit())) {
                    return Err(format!("{t:?} is not a LeiKa key (14 digits starting with 99)"));
                }
            }
            FieldType::Ars => {
                let t = text()?;
                if !(t.len() == 12 && t.bytes().all(|b| b.is_ascii_digit())) {
                    return Err(format!("{t:?} is not an ARS (12 digits)"));
                }
            }
            FieldType::DocumentRef => {
                let t = text()?;
                if let Some(problem) = vocab::text::problem(t, "die Referenz") {
                    return Err(problem);
                }
                if !vocab::text::has_visible(t) || t.chars().count() > DOCUMENT_REF_CHARS_MAX {
                    return Err(format!("must be a reference of 1 to {DOCUMENT_REF_CHARS_MAX} characters"));
                }
            }
            FieldType::Enumeration(values) => {
                let t = text()?;
                if !values.iter().any(|v| v == t) {
                    return Err(format!("{t:?} is not one of {}", values.join(", ")));
                }
            }
            FieldType::Boolean => {
                if !value.is_boolean() {
                    return Err(format!("must be true or false, not {}", json_kind(value)));
                }
            }
            FieldType::Number => {
                if !value.as_f64().is_some_and(f64::is_finite) {
                    return Err(format!("must be a number, not {}", json_kind(value)));
                }
            }
        }
        Ok(())
    }
}

fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "true/false",
        Json::Number(_) => "a number",
        Json::String(_) => "text",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

/// `YYYY-MM-DD`, a real calendar date between 1900 and 2999.
pub fn check_date(t: &str) -> Result<(), String> {
    let bad = || Err(format!("{t:?} is not a date (YYYY-MM-DD)"));
    let b = t.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return bad();
    }
    let num = |s: &str| s.parse::<u32>().ok().filter(|_| s.bytes().all(|c| c.is_ascii_digit()));
    let (Some(y), Some(m), Some(d)) = (num(&t[0..4]), num(&t[5..7]), num(&t[8..10])) else { return bad() };
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return bad(),
    };
    if !(1900..=2999).contains(&y) || d == 0 || d > days {
        return bad();
    }
    Ok(())
}

/// The longest address SMTP can carry (RFC 5321: a path of 256 octets with its brackets).
const EMAIL_CHARS_MAX: usize = 254;

/// `local@domain` with a dot in the domain, no spaces and at most 254 characters: what a form
/// can tell; whether the mailbox exists only a message tells.
fn check_email(t: &str) -> Result<(), String> {
    let bad = || Err(format!("{t:?} is not an e-mail address (name@domain.de)"));
    if t.chars().count() > EMAIL_CHARS_MAX {
        return Err(format!("has more than {EMAIL_CHARS_MAX} characters"));
    }
    let Some((local, domain)) = t.split_once('@') else { return bad() };
    let labels_ok = domain.split('.').all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || !labels_ok
        || t.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return bad();
    }
    Ok(())
}

fn check_url(t: &str) -> Result<(), String> {
    let rest = t.strip_prefix("https://").or_else(|| t.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    match host {
        Some(h) if !h.is_empty() && !t.chars().any(char::is_whitespace) && t.len() <= 2_000 => Ok(()),
        _ => Err(format!("{t:?} is not an http(s) address")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_example_is_valid() {
        let all = FieldType::NAMES.iter().map(|n| FieldType::from_name(n, vec!["a".into()]).expect("known"));
        for ty in all {
            assert_eq!(ty.check(&ty.example("120540000000")), Ok(()), "{ty:?}");
        }
    }

    #[test]
    fn each_type_accepts_its_values_and_names_what_is_wrong() {
        let ok = [
            (FieldType::Text, json!("AVV unterschrieben")),
            (FieldType::Date, json!("2024-02-29")),
            (FieldType::Url, json!("https://service.brandenburg.de/x")),
            (FieldType::Email, json!("poststelle@bernau-bei-berlin.de")),
            (FieldType::Uuid, json!("4f6bd8b0-6b5e-4c7a-9d1e-2f0c1a7e3b11")),
            (FieldType::LeikaKey, json!("99107023017000")),
            (FieldType::Ars, json!("120540000000")),
            (FieldType::DocumentRef, json!("DMS 2025/0815")),
            (FieldType::Enumeration(vec!["a".into(), "b".into()]), json!("b")),
            (FieldType::Boolean, json!(true)),
            (FieldType::Number, json!(3.5)),
        ];
        for (ty, v) in ok {
            assert_eq!(ty.check(&v), Ok(()), "{ty:?} {v}");
        }
        let bad = [
            (FieldType::Text, json!("  "), "must not be empty"),
            (FieldType::Date, json!("2023-02-29"), "is not a date"),
            (FieldType::Date, json!(20240101), "must be text"),
            (FieldType::Url, json!("ftp://x"), "http(s)"),
            (FieldType::Email, json!("poststelle"), "e-mail address"),
            (FieldType::Email, json!("a@b"), "e-mail address"),
            (FieldType::Email, json!("a b@c.de"), "e-mail address"),
            (FieldType::Email, json!("a@b@c.de"), "e-mail address"),
            (FieldType::Email, json!("a@.de"), "e-mail address"),
            (FieldType::Uuid, json!("nope"), "not a UUID"),
            (FieldType::LeikaKey, json!("12345678901234"), "LeiKa"),
            (FieldType::Ars, json!("12054"), "12 digits"),
            (FieldType::Enumeration(vec!["a".into()]), json!("c"), "not one of a"),
            (FieldType::Boolean, json!("yes"), "true or false"),
            (FieldType::Number, json!("3"), "must be a number"),
        ];
        for (ty, v, says) in bad {
            let e = ty.check(&v).expect_err("must fail");
            assert!(e.contains(says), "{ty:?} {v}: {e}");
        }
    }
}
