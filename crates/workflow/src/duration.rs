//! Deadlines as ISO 8601 durations of weeks, days and hours (`P30D`, `P2W`, `P1DT12H`).
//! Months and years are refused: they vary in length, and a deadline must mean one thing.
//! Retention periods (`P2Y`, `P18M`, `P90D`) count calendar years, months or days back.

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

/// A retention period: `P<n>Y`, `P<n>M` or `P<n>D` (ISO 8601, one unit): how long personal
/// data is kept after a person left or a rollout ended. Months and years are calendar ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Period {
    pub text: String,
    years: u32,
    months: u32,
    days: u32,
}

impl std::str::FromStr for Period {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a retention period (P2Y, P18M or P90D)");
        let body = s.strip_prefix('P').ok_or_else(bad)?;
        let unit = body.chars().last().ok_or_else(bad)?;
        let n: u32 = body[..body.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
        if n > 100 * 366 {
            return Err(bad());
        }
        let (years, months, days) = match unit {
            'Y' => (n, 0, 0),
            'M' => (0, n, 0),
            'D' => (0, 0, n),
            _ => return Err(bad()),
        };
        Ok(Period { text: s.to_owned(), years, months, days })
    }
}

impl Period {
    /// The last day of leaving that is due on `today` (`YYYY-MM-DD`): today minus the period.
    pub fn cutoff(&self, today: &str) -> Option<String> {
        let mut parts = today.splitn(3, '-').map(str::parse::<i32>);
        let (year, month, day) = (parts.next()?.ok()?, parts.next()?.ok()?, parts.next()?.ok()?);
        let total_months = year * 12 + (month - 1) - (self.years as i32) * 12 - self.months as i32;
        let (year, month) = (total_months.div_euclid(12), total_months.rem_euclid(12) as u8 + 1);
        let month = time::Month::try_from(month).ok()?;
        let day = u8::try_from(day).ok()?.min(month.length(year));
        let shifted = time::Date::from_calendar_date(year, month, day).ok()?;
        let cut = shifted.checked_sub(time::Duration::days(i64::from(self.days)))?;
        Some(format!("{:04}-{:02}-{:02}", cut.year(), u8::from(cut.month()), cut.day()))
    }
}

#[cfg(test)]
mod tests {
    use super::{Deadline, Period};

    #[test]
    fn retention_periods_parse_and_count_back_from_today() {
        let r: Period = "P2Y".parse().expect("P2Y");
        assert_eq!(r.cutoff("2026-12-02").as_deref(), Some("2024-12-02"));
        assert_eq!(r.cutoff("2028-02-29").as_deref(), Some("2026-02-28"));
        let m: Period = "P18M".parse().expect("P18M");
        assert_eq!(m.cutoff("2026-12-02").as_deref(), Some("2025-06-02"));
        let d: Period = "P90D".parse().expect("P90D");
        assert_eq!(d.cutoff("2026-03-31").as_deref(), Some("2025-12-31"));
        for bad in ["2Y", "P", "PY", "P2W", "P-1Y", "P1Y2M", "P2Ä", "PÄ", "P99999999Y"] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
    }

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
