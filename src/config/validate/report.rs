//! What validation says: the problems (each placed at its line), the warnings, and the
//! rules a driver adds through `Drivers`.

use crate::config::types::Config;
use serde::Serialize;

/// One thing wrong with the file, located and explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub line: Option<usize>,
    pub key: String,
    pub value: Option<String>,
    pub expected: String,
    pub example: Option<String>,
}

/// A rule of a driver's about settings: `key` is wrong, expected `expected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub key: &'static str,
    pub expected: String,
    pub example: Option<String>,
}

/// The drivers `INFRA_TYPE` may name, and their own rules about the settings: what
/// validation needs of them, as data, so that this module knows no driver.
pub trait Drivers {
    /// Every name `INFRA_TYPE` may take.
    fn names(&self) -> Vec<&str>;
    /// The name meant by an unknown one (`docker` for `container`), if any.
    fn suggest(&self, typed: &str) -> Option<&str>;
    /// The rules of the driver `config.infra_type` names, once the general ones hold.
    fn rules(&self, config: &Config) -> Vec<Rule>;
}

/// Something legal but probably not meant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub problems: Vec<Problem>,
    pub warnings: Vec<Warning>,
}
