//! Deadlines as ISO 8601 durations of weeks, days and hours (`P30D`, `P2W`, `P1DT12H`).
//! Months and years are refused: they vary in length, and a deadline must mean one thing.

/// A deadline relative to when a step becomes ready.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Deadline {
    pub hours: u32,
}

impl Deadline {
    /// Microseconds, for adding to a `vocab::Timestamp`.
    pub fn micros(self) -> i64 {
        i64::from(self.hours) * 3_600_000_000
    }

    pub fn parse(s: &str) -> Result<Deadline, String> {
        let bad =
            |why: &str| Err(format!("`{s}` is not a deadline: {why} (write e.g. P30D, P2W or P1DT12H)"));
        let Some(rest) = s.strip_prefix('P') else { return bad("it must start with P") };
        let (date, time) = match rest.split_once('T') {
            Some((d, t)) => (d, Some(t)),
            None => (rest, None),
        };
        let mut hours: u64 = 0;
        let mut any = false;
        for (part, units) in [(date, &[('W', 168u64), ('D', 24)][..]), (time.unwrap_or(""), &[('H', 1)][..])]
        {
            let mut number = String::new();
            let mut next_unit = 0;
            for c in part.chars() {
                if c.is_ascii_digit() {
                    number.push(c);
                    continue;
                }
                if c == 'M' || c == 'Y' {
                    return bad("months and years vary in length; use days or weeks");
                }
                let Some(pos) = units.iter().position(|(u, _)| *u == c) else {
                    return bad(&format!("unknown unit {c:?}"));
                };
                if pos < next_unit || number.is_empty() {
                    return bad("units must come in the order W, D, T…H, each with a number");
                }
                let n: u64 = match number.parse() {
                    Ok(n) => n,
                    Err(_) => return bad("the number is too large"),
                };
                hours = hours.saturating_add(n.saturating_mul(units[pos].1));
                number.clear();
                next_unit = pos + 1;
                any = true;
            }
            if !number.is_empty() {
                return bad("a number without a unit");
            }
        }
        if time == Some("") {
            return bad("T must be followed by hours");
        }
        if !any || hours == 0 {
            return bad("it must be longer than zero");
        }
        // Ten years is more than any onboarding step needs.
        if hours > 10 * 366 * 24 {
            return bad("it is longer than ten years");
        }
        Ok(Deadline { hours: hours as u32 })
    }
}

#[cfg(test)]
mod tests {
    use super::Deadline;

    #[test]
    fn parses_weeks_days_hours_and_refuses_the_rest() {
        assert_eq!(Deadline::parse("P30D").map(|d| d.hours), Ok(720));
        assert_eq!(Deadline::parse("P2W").map(|d| d.hours), Ok(336));
        assert_eq!(Deadline::parse("P1W2DT12H").map(|d| d.hours), Ok(168 + 48 + 12));
        assert_eq!(Deadline::parse("PT8H").map(|d| d.hours), Ok(8));
        for bad in [
            "30D",
            "P",
            "PT",
            "P1M",
            "P1Y",
            "P0D",
            "PD",
            "P1D2W",
            "P1X",
            "P99999999999999999999D",
            "P5000W",
            "P1DT",
        ] {
            assert!(Deadline::parse(bad).is_err(), "{bad} should be refused");
        }
        assert!(Deadline::parse("P1M").expect_err("months").contains("months and years vary"));
    }
}
