//! The catalogue: a Land's administrations and the EfA services as reference data, read
//! from the files its profile names (`data/brandenburg.profile.toml`) (validated row by row), kept as events, and used to decide which
//! administrations a service's rollout applies to. No IO: files come in as bytes.

pub mod centres;
pub mod events;
pub mod limits;
pub mod model;
pub mod parse;
pub mod profile;
pub mod responsibility;
mod responsibility_file;
pub mod reuse;
mod table;

pub use events::{plan_import, Catalog, CatalogEvent, Planned};
pub use model::{
    applies, check_ars, facts, Authority, AuthorityKind, DefinitionLevel, DefinitionRef, Dissolution, Level,
    Member, Program, Service,
};
pub use parse::{parse_dataset, Dataset, FileNames, Files, Parties, Party, RowError};
pub use profile::Profile;
pub use reuse::{
    Answer, AnswerKind, DeclineCategory, Exception, Measure, Offer, Responsibility, Support, Target,
    TownStatus, Usage,
};
