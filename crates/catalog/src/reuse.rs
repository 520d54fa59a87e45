//! Who is responsible for a service, who wants it, and what the ministry asks about its use:
//! responsibility exceptions, offers and answers, targets, usage, Ende-zu-Ende and support
//! given. Plain data, the payloads of catalogue events (camelCase); the rules that read them
//! are `Catalog::responsible` and `Catalog::reuse_state` (`events.rs`).

use serde::{Deserialize, Serialize};

/// The status of a kreisangehörige Stadt that carries tasks of its Landkreis itself.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TownStatus {
    /// Große kreisangehörige Stadt (§ 1 Abs. 3 BbgKVerf in Brandenburg).
    GrosseKreisangehoerigeStadt,
    /// Mittlere kreisangehörige Stadt (kept under § 141 Abs. 2 BbgKVerf in Brandenburg).
    MittlereKreisangehoerigeStadt,
}

impl TownStatus {
    pub const ALL: [TownStatus; 2] =
        [TownStatus::GrosseKreisangehoerigeStadt, TownStatus::MittlereKreisangehoerigeStadt];

    pub fn name(self) -> &'static str {
        match self {
            TownStatus::GrosseKreisangehoerigeStadt => "grosse_kreisangehoerige_stadt",
            TownStatus::MittlereKreisangehoerigeStadt => "mittlere_kreisangehoerige_stadt",
        }
    }

    pub fn german(self) -> &'static str {
        match self {
            TownStatus::GrosseKreisangehoerigeStadt => "Große kreisangehörige Stadt",
            TownStatus::MittlereKreisangehoerigeStadt => "Mittlere kreisangehörige Stadt",
        }
    }

    pub fn from_name(name: &str) -> Option<TownStatus> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// An exception to a service's level rule for one administration: it is responsible though its
/// level is not (a Mittlere kreisangehörige Stadt's Wohngeldstelle), or not though its level is
/// (its task went elsewhere by agreement). `for_ars` names the administrations whose task it
/// carries by agreement (they are then not responsible) and the municipalities it acts for
/// where the editorial entry needs their keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Exception {
    pub responsible: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub for_ars: Vec<String>,
    /// The legal basis or the source.
    pub source: String,
    /// `YYYY-MM-DD`.
    pub valid_from: String,
}

/// One row of the responsibility file: the exception of `ars` for `service`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Responsibility {
    pub service: String,
    pub ars: String,
    pub exception: Exception,
}

/// A project manager's offer of a service to administrations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Offer {
    /// The administrations offered to; empty: every responsible administration.
    #[serde(default)]
    pub to: Vec<String>,
    /// From when the service can be taken up (`YYYY-MM-DD`).
    pub from: String,
    #[serde(default)]
    pub conditions: String,
    /// Whom to ask: a registered person (its values encrypted and erasable; never a name in
    /// the event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<uuid::Uuid>,
    pub reason: String,
    /// When it was offered (filled in from the event when folded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<vocab::Timestamp>,
}

impl Offer {
    /// Whether it was made to administration `ars` (an offer to none named is to every
    /// responsible one).
    pub fn is_to(&self, ars: &str) -> bool {
        self.to.is_empty() || self.to.iter().any(|t| t == ars)
    }
}

/// What an administration answered to an offer.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerKind {
    Interested,
    Declined,
    Deferred,
    OwnSolution,
}

impl AnswerKind {
    pub fn german(self) -> &'static str {
        match self {
            AnswerKind::Interested => "Interesse",
            AnswerKind::Declined => "abgelehnt",
            AnswerKind::Deferred => "zurückgestellt",
            AnswerKind::OwnSolution => "eigene Lösung",
        }
    }
}

/// Why an administration declined.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineCategory {
    OwnSolution,
    NoDemand,
    NoCapacity,
    Costs,
    Technical,
    Other,
}

impl DeclineCategory {
    pub fn german(self) -> &'static str {
        match self {
            DeclineCategory::OwnSolution => "eigene Lösung",
            DeclineCategory::NoDemand => "kein Bedarf",
            DeclineCategory::NoCapacity => "keine Kapazität",
            DeclineCategory::Costs => "Kosten",
            DeclineCategory::Technical => "technische Gründe",
            DeclineCategory::Other => "sonstige Gründe",
        }
    }
}

/// An administration's answer to the offer of a service (the latest counts; it can be revised).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    pub service: String,
    pub answer: AnswerKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<DeclineCategory>,
    /// Deferred until (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// The reason in words; for `OwnSolution`, which solution.
    #[serde(default)]
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<vocab::Timestamp>,
}

/// What a target counts.
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "value")]
pub enum Measure {
    /// Administrations in operation.
    InOperation(u64),
    /// Coverage in percent (in operation ÷ responsible).
    Coverage(f64),
}

/// A target: a measure reached by a date, for a service or a programme.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// `service:<key>`, `programme:efa`, `programme:formularserver` or `gesamt`.
    pub scope: String,
    pub measure: Measure,
    /// `YYYY-MM-DD`.
    pub by: String,
    pub reason: String,
}

/// Applications received online in one month at one administration for one service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub service: String,
    /// `YYYY-MM`.
    pub month: String,
    pub count: u64,
    /// Where the figure comes from (a statistic, the form server, the administration).
    pub source: String,
}

/// Advice or support given to an administration (Kommunalpakt: technical, organisational,
/// legal advice; events).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Support {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub topic: String,
    /// The office that gave it ("KAZ/ZIT-BB", "ZV DIKOM"), not a person's name.
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// Checks `YYYY-MM-DD` (a real calendar day).
pub fn check_date(text: &str) -> Result<(), String> {
    let ok = text.len() == 10
        && text.as_bytes()[4] == b'-'
        && text.as_bytes()[7] == b'-'
        && text[..4].parse::<u32>().is_ok_and(|y| (1990..=2200).contains(&y))
        && text[5..7].parse::<u32>().is_ok_and(|m| (1..=12).contains(&m))
        && text[8..].parse::<u32>().is_ok_and(|d| (1..=days_in(&text[..4], &text[5..7])).contains(&d));
    if ok {
        Ok(())
    } else {
        Err(format!("„{text}“ ist kein Datum der Form JJJJ-MM-TT"))
    }
}

fn days_in(year: &str, month: &str) -> u32 {
    let (y, m): (u32, u32) = (year.parse().unwrap_or(1), month.parse().unwrap_or(1));
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Checks `YYYY-MM`.
pub fn check_month(text: &str) -> Result<(), String> {
    let ok = text.len() == 7
        && text.as_bytes()[4] == b'-'
        && text[..4].parse::<u32>().is_ok_and(|y| (1990..=2200).contains(&y))
        && text[5..].parse::<u32>().is_ok_and(|m| (1..=12).contains(&m));
    if ok {
        Ok(())
    } else {
        Err(format!("„{text}“ ist kein Monat der Form JJJJ-MM"))
    }
}
