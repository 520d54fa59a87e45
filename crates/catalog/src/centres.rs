//! Where each administration is: the centre of its area (longitude, latitude), from a
//! semicolon-separated file `ars;laenge;breite` (`scripts/centres.py` writes it from the map
//! layers). The network measures distances between these; they are reference data, not events.

use std::collections::HashMap;

use crate::parse::RowError;

/// The centres by ARS: (longitude, latitude) in degrees (WGS 84).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Centres(HashMap<String, (f64, f64)>);

impl Centres {
    /// The centre of `ars`'s area.
    pub fn of(&self, ars: &str) -> Option<(f64, f64)> {
        self.0.get(ars).copied()
    }

    /// Centres from (ARS, (longitude, latitude)) points.
    pub fn from_points(points: impl IntoIterator<Item = (String, (f64, f64))>) -> Centres {
        Centres(points.into_iter().collect())
    }

    /// Every centre, in ARS order.
    pub fn points(&self) -> impl Iterator<Item = (&str, (f64, f64))> {
        let mut all: Vec<(&str, (f64, f64))> = self.0.iter().map(|(a, p)| (a.as_str(), *p)).collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all.into_iter()
    }

    /// Reads `file` (named `name` in errors): a header, then one line per administration.
    pub fn parse(name: &str, file: &[u8]) -> Result<Centres, RowError> {
        let error =
            |line: u64, message: String| RowError { file: name.to_owned(), line, column: None, message };
        let text = std::str::from_utf8(file).map_err(|e| error(0, format!("ist kein UTF-8: {e}")))?;
        let mut out = HashMap::new();
        for (i, line) in text.lines().enumerate().skip(1) {
            let n = i as u64 + 1;
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(';').map(str::trim).collect();
            let [ars, lon, lat] = fields[..] else {
                return Err(error(
                    n,
                    format!("erwartet drei Felder `ars;laenge;breite`, gefunden {}", fields.len()),
                ));
            };
            if ars.len() != 12 || !ars.bytes().all(|b| b.is_ascii_digit()) {
                return Err(error(n, format!("ARS `{ars}` muss 12 Ziffern haben")));
            }
            let degree = |v: &str, max: f64, what: &str| {
                v.parse::<f64>()
                    .ok()
                    .filter(|d| d.is_finite() && d.abs() <= max)
                    .ok_or_else(|| error(n, format!("{what} `{v}` ist keine Gradzahl (höchstens ±{max})")))
            };
            let point = (degree(lon, 180.0, "Länge")?, degree(lat, 90.0, "Breite")?);
            if out.insert(ars.to_owned(), point).is_some() {
                return Err(error(n, format!("ARS `{ars}` steht zweimal in der Datei")));
            }
        }
        Ok(Centres(out))
    }
}

/// Great-circle distance in kilometres between two (longitude, latitude) points.
pub fn km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, la2) = (a.1.to_radians(), b.1.to_radians());
    let (dla, dlo) = (la2 - la1, (b.0 - a.0).to_radians());
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    6371.0 * 2.0 * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::Centres;

    #[test]
    fn centres_are_read_and_bad_lines_named() {
        let ok = Centres::parse("z.csv", b"ars;laenge;breite\n120540000000;13.06;52.40\n").expect("parses");
        assert_eq!(ok.of("120540000000"), Some((13.06, 52.40)));
        for (bad, says) in [
            ("ars;laenge;breite\n1205;13;52\n", "z.csv:2: ARS `1205`"),
            ("ars;laenge;breite\n120540000000;x;52\n", "Länge `x`"),
            ("ars;laenge;breite\n120540000000;13;95\n", "Breite `95`"),
            ("ars;laenge;breite\n120540000000;13\n", "drei Felder"),
            (
                "ars;laenge;breite\n120540000000;13;52\n120540000000;13;52\n",
                "z.csv:3: ARS `120540000000` steht zweimal",
            ),
        ] {
            let e = Centres::parse("z.csv", bad.as_bytes()).expect_err(bad).to_string();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn a_distance_is_a_great_circle() {
        // Potsdam – Cottbus, about 113 km.
        let d = super::km((13.06, 52.40), (14.33, 51.76));
        assert!((110.0..116.0).contains(&d), "{d}");
    }
}
