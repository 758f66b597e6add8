//! A line of `tmpl doctor`: what a check found, or what is wrong and the command that fixes
//! it. Drivers, the fence and the host's own checks all make them.

use serde::Serialize;

/// One line of `tmpl doctor`.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    /// A failed optional check is a warning: the project works without it, worse.
    pub required: bool,
    pub detail: String,
    pub fix: Option<String>,
}

impl Check {
    /// A check from its result: what was found, or what is wrong and its fix.
    pub fn of(name: &str, required: bool, result: Result<String, (String, String)>) -> Check {
        let (ok, detail, fix) = match result {
            Ok(detail) => (true, detail, None),
            Err((detail, fix)) => (false, detail, Some(fix)),
        };
        Check {
            name: name.into(),
            ok,
            required,
            detail,
            fix,
        }
    }
}
