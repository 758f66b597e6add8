//! `SECRETS`: which secret may be sent to which host (the credential broker, `broker`).
//! Each entry is `NAME@HOST`; every bad one is reported, each on its own, at the key's line.

use super::checker::Checker;
use super::egress::valid_host_name;
use crate::config::types::SecretUse;

/// The variables tmpl itself sets in a guest that has secrets: a secret may not take one
/// of their names.
pub const GUEST_VARIABLES: &[&str] = &[
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "https_proxy",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "NODE_USE_ENV_PROXY",
];

/// Names a login needs as they are: a placeholder there would break the guest's shells.
const RESERVED: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "PWD", "IFS", "ENV", "BASH_ENV",
    "TZ", "MAIL",
];

const EXAMPLE: &str = "SECRETS=ANTHROPIC_API_KEY@api.anthropic.com,GITHUB_TOKEN@github.com";

pub(super) fn check_secrets(c: &mut Checker) -> Vec<SecretUse> {
    let Some(v) = c.optional("SECRETS") else {
        return Vec::new();
    };
    let mut out: Vec<SecretUse> = Vec::new();
    for spec in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match parse_secret(spec) {
            Ok(s) if out.contains(&s) => {
                c.warn("SECRETS", format!("`{s}` is listed twice"));
            }
            Ok(s) => out.push(s),
            Err(why) => c.problem(
                "SECRETS",
                format!("`NAME@HOST` entries, but `{spec}` {why}"),
                Some(EXAMPLE.into()),
            ),
        }
    }
    out
}

/// One entry: `NAME@HOST`, a variable name and a DNS host name (lowercased).
pub fn parse_secret(spec: &str) -> Result<SecretUse, String> {
    let Some((name, host)) = spec.split_once('@') else {
        return Err("has no `@HOST`".into());
    };
    let name_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !name_ok {
        return Err(format!(
            "names `{name}`, which is not a variable name (letters, digits and `_`)"
        ));
    }
    if GUEST_VARIABLES.contains(&name)
        || RESERVED.contains(&name)
        || name.starts_with("LD_")
        || name.starts_with("TMPL_")
    {
        return Err(format!(
            "names `{name}`, which the guest needs for itself (or tmpl sets there)"
        ));
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.parse::<std::net::IpAddr>().is_ok()
        || host.chars().all(|c| c.is_ascii_digit() || c == '.')
    {
        return Err(format!(
            "sends it to `{host}`, an address: the broker needs a host name for the certificate it shows"
        ));
    }
    if host.is_empty() || !valid_host_name(&host) {
        return Err(format!("sends it to `{host}`, which is not a host name"));
    }
    Ok(SecretUse {
        name: name.to_owned(),
        host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_hosts() {
        let s = parse_secret("GITHUB_TOKEN@GitHub.com.").unwrap();
        assert_eq!(
            (s.name.as_str(), s.host.as_str()),
            ("GITHUB_TOKEN", "github.com")
        );
        assert_eq!(s.to_string(), "GITHUB_TOKEN@github.com");
        for bad in [
            "GITHUB_TOKEN",
            "1KEY@a.com",
            "KEY-X@a.com",
            "KEY@",
            "KEY@a b",
            "KEY@10.0.0.1",
            "KEY@a..b",
            "HTTPS_PROXY@a.com",
            "PATH@a.com",
            "LD_PRELOAD@a.com",
        ] {
            assert!(parse_secret(bad).is_err(), "{bad}");
        }
    }
}
