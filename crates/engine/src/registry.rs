//! Every published workflow definition, by id and version. The bundled ones are compiled into
//! the binary from `workflows/`.

use std::collections::BTreeMap;
use std::sync::Arc;

use workflow::{Definition, Definitions};

/// The definitions shipped in `workflows/`, as (file name, text).
pub const BUNDLED: &[(&str, &str)] = &[
    ("efa-onboarding.toml", include_str!("../../../workflows/efa-onboarding.toml")),
    ("efa-land.toml", include_str!("../../../workflows/efa-land.toml")),
    ("formularserver-assistent.toml", include_str!("../../../workflows/formularserver-assistent.toml")),
];

/// The definition a Land-level rollout runs, and the one an administration's rollout runs.
pub const LAND_DEFINITION: &str = "efa-land";
pub const AUTHORITY_DEFINITION: &str = "efa-onboarding";

#[derive(Debug, Default, Clone)]
pub struct Registry {
    definitions: BTreeMap<(String, u32), Arc<Definition>>,
}

impl Registry {
    /// The bundled definitions. They are checked by the tests, so a failure here is a bug in
    /// the build, reported as an error all the same.
    pub fn bundled() -> Result<Registry, String> {
        let mut r = Registry::default();
        for (name, text) in BUNDLED {
            let d = workflow::parse(text.as_bytes()).map_err(|diags| {
                let first = diags.first().map(|d| d.render(name, text)).unwrap_or_default();
                format!("bundled definition {name} is invalid: {first}")
            })?;
            r.add(d);
        }
        Ok(r)
    }

    pub fn add(&mut self, d: Definition) {
        self.definitions.insert((d.id.clone(), d.version), Arc::new(d));
    }

    /// The newest version of a definition.
    pub fn latest(&self, id: &str) -> Option<Arc<Definition>> {
        self.definitions
            .range((id.to_owned(), 0)..=(id.to_owned(), u32::MAX))
            .next_back()
            .map(|(_, d)| d.clone())
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<Definition>> {
        self.definitions.values()
    }
}

impl Definitions for Registry {
    fn get(&self, id: &str, version: u32) -> Option<Arc<Definition>> {
        self.definitions.get(&(id.to_owned(), version)).cloned()
    }
}
