//! `.env` → typed `Config`: reading (`dotenv`), the keys tmpl owns (`keys`), checking
//! (`validate`) and the result (`types`).

pub mod dotenv;
mod dotenv_syntax;
pub mod keys;
pub mod names;
pub mod types;
pub mod validate;

pub use dotenv::{EnvFile, Grants};
pub use types::*;
pub use validate::{validate, Drivers, Problem, Report, Rule, Warning};
