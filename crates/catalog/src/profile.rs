//! A Land's profile: its key and name, the central parties (the Land, the association that owns
//! the form server's model rollouts) and their roles, the report's title, and the files of its
//! catalogue, its administrations' centres and its map layers. Profiles are data
//! (`data/<key>.profile.toml`); the bundled ones are compiled in, another is read from a file
//! through a reader the caller supplies (this crate does no IO). What the running product needs
//! of it after `init` is stored in the log ([`StoredProfile`], `ProfileChosen`).

use serde::{Deserialize, Serialize};

use crate::centres::Centres;
use crate::parse::{FileNames, Files, Parties, Party};

/// A bundled profile's files: (path relative to `data/`, bytes).
type BundledFiles = &'static [(&'static str, &'static [u8])];

/// The profiles compiled into the binary: their key, their text and every file they name
/// (relative to `data/`).
const BUNDLED: &[(&str, &str, BundledFiles)] = &[(
    "brandenburg",
    include_str!("../../../data/brandenburg.profile.toml"),
    &[
        (
            "brandenburg_verwaltungstraeger.csv",
            include_bytes!("../../../data/brandenburg_verwaltungstraeger.csv"),
        ),
        ("brandenburg_gemeinden.csv", include_bytes!("../../../data/brandenburg_gemeinden.csv")),
        ("efa_services.csv", include_bytes!("../../../data/efa_services.csv")),
        (
            "brandenburg_gebietsaenderungen_2021_2025.csv",
            include_bytes!("../../../data/brandenburg_gebietsaenderungen_2021_2025.csv"),
        ),
        ("formularserver_assistenten.csv", include_bytes!("../../../data/formularserver_assistenten.csv")),
        ("zv_dikom_mitglieder.csv", include_bytes!("../../../data/zv_dikom_mitglieder.csv")),
        ("brandenburg_zentren.csv", include_bytes!("../../../data/brandenburg_zentren.csv")),
        ("brandenburg_stadtstatus.csv", include_bytes!("../../../data/brandenburg_stadtstatus.csv")),
        ("zustaendigkeiten.csv", include_bytes!("../../../data/zustaendigkeiten.csv")),
        ("geo/brandenburg_kreise.geojson", include_bytes!("../../../data/geo/brandenburg_kreise.geojson")),
        (
            "geo/brandenburg_verwaltungstraeger.geojson",
            include_bytes!("../../../data/geo/brandenburg_verwaltungstraeger.geojson"),
        ),
    ],
)];

/// The profile an empty store is initialised with unless another is chosen, and the one a store
/// from before profiles were stored has.
pub const DEFAULT: &str = "brandenburg";

/// A Land's profile with its files read.
#[derive(Debug)]
pub struct Profile {
    pub stored: StoredProfile,
    /// The catalogue's files, with the central parties.
    pub files: Files,
    /// The map layers by name (`kreise`, `verwaltungstraeger`): GeoJSON.
    pub map: Vec<(String, Vec<u8>)>,
}

/// What the log keeps of a profile (`ProfileChosen`): enough to serve a store without the
/// profile's files (the catalogue itself is in the log as its own events).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredProfile {
    /// `brandenburg`, or the key of a profile read from a file.
    pub key: String,
    /// The Land's name.
    pub name: String,
    /// The Land's own key (ARS `XX0000000000`).
    pub land_ars: String,
    /// The association's key and its short name, if the Land has one.
    pub association: Option<(String, String)>,
    /// The programme report's title.
    pub report_title: String,
    /// The centres of the administrations' areas: (ARS, longitude, latitude).
    pub centres: Vec<(String, f64, f64)>,
    /// The map layers' source and licence, shown under the map.
    #[serde(default)]
    pub map_attribution: String,
}

impl StoredProfile {
    /// The association's short name, or "Verband" when the Land has none.
    pub fn association_short_name(&self) -> &str {
        self.association.as_ref().map_or("Verband", |(_, short)| short.as_str())
    }

    /// The centres as the network measures with them.
    pub fn centres(&self) -> Centres {
        Centres::from_points(self.centres.iter().map(|(ars, lon, lat)| (ars.clone(), (*lon, *lat))))
    }
}

/// The files of the default profile ([`DEFAULT`]), compiled into the binary, so that
/// an empty store can be initialised without any files at hand.
pub fn bundled_files() -> Files {
    Profile::bundled(DEFAULT).map(|p| p.files).unwrap_or_default()
}

/// The keys of the bundled profiles.
pub fn bundled_keys() -> Vec<&'static str> {
    BUNDLED.iter().map(|(key, _, _)| *key).collect()
}

impl Profile {
    /// A bundled profile by key.
    pub fn bundled(key: &str) -> Option<Profile> {
        let (_, text, files) = BUNDLED.iter().find(|(k, _, _)| *k == key)?;
        let mut read = |name: &str| {
            files
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, b)| b.to_vec())
                .ok_or_else(|| format!("`{name}` ist nicht gebündelt"))
        };
        // The bundled profiles are checked by a test; a broken one is a build defect.
        Profile::parse(&format!("{key}.toml"), text, &mut read).ok()
    }

    /// Reads a profile from `text` (its file named `name` in problems); `read` gives the bytes
    /// of a file it names (a path relative to the profile's data directory).
    pub fn parse(
        name: &str,
        text: &str,
        read: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
    ) -> Result<Profile, String> {
        let doc: toml_edit::DocumentMut =
            text.parse().map_err(|e| format!("{name}: kein gültiges TOML: {e}"))?;
        let text_at = |path: &[&str]| text_at(name, &doc, path);
        let party = |table: &str| party_at(name, &doc, table);
        let land = party("land")?;
        crate::model::check_ars(&land.ars, crate::AuthorityKind::Land)
            .map_err(|e| format!("{name}: land.ars: {e}"))?;
        let association = association_of(name, &doc, &land)?;
        let file = |key: &str| text_at(&["files", key]);
        let optional_file =
            |key: &str| doc.get("files").and_then(|f| f.get(key)).map(|_| file(key)).transpose();
        let names = FileNames {
            authorities: file("authorities")?,
            municipalities: file("municipalities")?,
            services: file("services")?,
            changes: file("changes")?,
            assistants: optional_file("assistants")?.unwrap_or_default(),
            association: optional_file("association")?.unwrap_or_default(),
            statuses: optional_file("statuses")?.unwrap_or_default(),
            responsibilities: optional_file("responsibilities")?.unwrap_or_default(),
        };
        let mut bytes = |n: &str| if n.is_empty() { Ok(Vec::new()) } else { read(n) };
        let centres_name = file("centres")?;
        let centres = Centres::parse(&centres_name, &bytes(&centres_name)?).map_err(|e| e.to_string())?;
        let files = Files {
            authorities: bytes(&names.authorities)?,
            municipalities: bytes(&names.municipalities)?,
            services: bytes(&names.services)?,
            changes: bytes(&names.changes)?,
            assistants: bytes(&names.assistants)?,
            association: bytes(&names.association)?,
            statuses: bytes(&names.statuses)?,
            responsibilities: bytes(&names.responsibilities)?,
            parties: Parties {
                land: land.clone(),
                association: association.as_ref().map(|(p, _)| p.clone()),
            },
            names,
        };
        let map = map_layers(&doc, &text_at, &mut bytes)?;
        let stored = StoredProfile {
            key: text_at(&["key"])?,
            name: text_at(&["name"])?,
            land_ars: land.ars.clone(),
            association: association.map(|(p, short)| (p.ars, short)),
            report_title: text_at(&["report", "title"])?,
            centres: centres.points().map(|(ars, (lon, lat))| (ars.to_owned(), lon, lat)).collect(),
            map_attribution: doc
                .get("map")
                .and_then(|m| m.get("attribution"))
                .and_then(|a| a.as_str())
                .unwrap_or_default()
                .to_owned(),
        };
        Ok(Profile { stored, files, map })
    }
}

/// The text at `path` of profile `name`'s document: present, a text, not empty.
fn text_at(name: &str, doc: &toml_edit::DocumentMut, path: &[&str]) -> Result<String, String> {
    let mut item: &toml_edit::Item = doc.as_item();
    for key in path {
        item = item.get(key).ok_or_else(|| format!("{name}: `{}` fehlt", path.join(".")))?;
    }
    let value = item.as_str().ok_or_else(|| format!("{name}: `{}` muss ein Text sein", path.join(".")))?;
    if value.trim().is_empty() {
        return Err(format!("{name}: `{}` ist leer", path.join(".")));
    }
    Ok(value.to_owned())
}

/// A central party (`[land]`, `[association]`): key, names, seat.
fn party_at(name: &str, doc: &toml_edit::DocumentMut, table: &str) -> Result<Party, String> {
    Ok(Party {
        ars: text_at(name, doc, &[table, "ars"])?,
        name: text_at(name, doc, &[table, "name"])?,
        official_name: text_at(name, doc, &[table, "official_name"])?,
        seat: text_at(name, doc, &[table, "seat"])?,
    })
}

/// The association (`[association]`, optional) and its short name: an association's key in
/// the Land of `land`.
fn association_of(
    name: &str,
    doc: &toml_edit::DocumentMut,
    land: &Party,
) -> Result<Option<(Party, String)>, String> {
    if doc.get("association").is_none() {
        return Ok(None);
    }
    let p = party_at(name, doc, "association")?;
    crate::model::check_ars(&p.ars, crate::AuthorityKind::Zweckverband)
        .map_err(|e| format!("{name}: association.ars: {e}"))?;
    if p.ars[..2] != land.ars[..2] {
        return Err(format!("{name}: association.ars `{}` liegt nicht im Land `{}`", p.ars, land.ars));
    }
    Ok(Some((p, text_at(name, doc, &["association", "short_name"])?)))
}

/// The profile's map layers (`[map]`, every key but `attribution`), read.
fn map_layers(
    doc: &toml_edit::DocumentMut,
    text_at: &dyn Fn(&[&str]) -> Result<String, String>,
    bytes: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut map = Vec::new();
    if let Some(layers) = doc.get("map").and_then(|m| m.as_table_like()) {
        for (layer, _) in layers.iter().filter(|(k, _)| *k != "attribution") {
            let path = text_at(&["map", layer])?;
            map.push((layer.to_owned(), bytes(&path)?));
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::Profile;

    #[test]
    fn the_bundled_profiles_read_and_their_catalogues_parse() {
        for key in super::bundled_keys() {
            let p = Profile::bundled(key).unwrap_or_else(|| panic!("bundled profile {key}"));
            assert_eq!(p.stored.key, key);
            let dataset = crate::parse_dataset(&p.files).expect("the bundled catalogue parses");
            assert!(dataset.authorities.iter().any(|a| a.ars == p.stored.land_ars));
            assert!(p.stored.centres.len() > 100, "centres of {key}");
            assert_eq!(p.map.len(), 2, "map layers of {key}");
        }
    }

    #[test]
    fn a_profile_missing_a_part_is_named() {
        let text = include_str!("../../../data/brandenburg.profile.toml");
        let mut read = |_: &str| Ok(b"ars;laenge;breite\n".to_vec());
        let without = text.replace("title = ", "titel = ");
        let e = Profile::parse("x.toml", &without, &mut read).expect_err("no title");
        assert_eq!(e, "x.toml: `report.title` fehlt");
        let wrong = text.replace("ars = \"120000000000\"", "ars = \"120540000000\"");
        let e = Profile::parse("x.toml", &wrong, &mut read).expect_err("not a Land's key");
        assert!(e.starts_with("x.toml: land.ars: ARS `120540000000`"), "{e}");
    }
}
