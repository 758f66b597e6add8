//! The broker's pure core: which secret a request may carry, and putting it in.
//!
//! A request's headers are searched for the guest's placeholders. A placeholder whose
//! secret the request's host owns is replaced by the value: in any header, and inside
//! `Authorization: Basic`, where it sits in base64 (`user:placeholder`, as git sends a token).
//! A placeholder going to a host that does not own it is left as it is and reported, so the
//! log shows the attempt. Nothing else of the request changes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::header::{HeaderMap, HeaderValue};

/// One secret as the broker holds it: its name, the hosts that own it, the guest's
/// placeholder and the value.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Secret {
    pub name: String,
    pub hosts: Vec<String>,
    pub placeholder: String,
    pub value: String,
}

impl std::fmt::Debug for Secret {
    // never the value, not even in a panic message
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} for {:?})", self.name, self.hosts)
    }
}

impl Secret {
    pub fn owned_by(&self, host: &str) -> bool {
        let host = normal_host(host);
        self.hosts.contains(&host)
    }
}

/// A host as requests name it, compared the way the broker compares it: lowercase, no final
/// dot, no port (`API.example.com.:443` is `api.example.com`).
pub fn normal_host(authority: &str) -> String {
    let host = match authority.rsplit_once(':') {
        // `[v6]:443` or `name:443`; a bare IPv6 address has more than one colon
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(':') => h,
        _ => authority,
    };
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// What happened to one request.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Names whose value was put in.
    pub swapped: Vec<String>,
    /// Names whose placeholder was on its way to a host that does not own the secret, and
    /// was left as it is.
    pub withheld: Vec<String>,
}

fn note(list: &mut Vec<String>, name: &str) {
    if !list.iter().any(|n| n == name) {
        list.push(name.to_owned());
    }
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len() + to.len());
    let mut rest = haystack;
    while let Some(i) = find(rest, from) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(to);
        rest = &rest[i + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `text` with the placeholders of secrets `owner` owns replaced; `None` when nothing was.
fn swap_text(
    text: &[u8],
    owner: Option<&str>,
    secrets: &[Secret],
    out: &mut Outcome,
) -> Option<Vec<u8>> {
    let mut current: Option<Vec<u8>> = None;
    for s in secrets {
        let now = current.as_deref().unwrap_or(text);
        if find(now, s.placeholder.as_bytes()).is_none() {
            continue;
        }
        if owner.is_some_and(|h| s.owned_by(h)) {
            current = Some(replace(now, s.placeholder.as_bytes(), s.value.as_bytes()));
            note(&mut out.swapped, &s.name);
        } else {
            note(&mut out.withheld, &s.name);
        }
    }
    current
}

/// `Basic <base64 of user:password>` with the placeholders inside swapped, re-encoded.
fn swap_basic(
    value: &[u8],
    owner: Option<&str>,
    secrets: &[Secret],
    out: &mut Outcome,
) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(value).ok()?;
    let (scheme, encoded) = text.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let swapped = swap_text(&decoded, owner, secrets, out)?;
    Some(format!("{scheme} {}", STANDARD.encode(swapped)).into_bytes())
}

/// Puts the values of the secrets that `owner` (the host the request goes to; `None` when
/// the request names another host than the one it is sent to) owns into `headers`, in place
/// of their placeholders.
pub fn rewrite(headers: &mut HeaderMap, owner: Option<&str>, secrets: &[Secret]) -> Outcome {
    let mut out = Outcome::default();
    for value in headers.values_mut() {
        let bytes = value.as_bytes();
        let new = swap_basic(bytes, owner, secrets, &mut out)
            .or_else(|| swap_text(bytes, owner, secrets, &mut out));
        if let Some(new) = new {
            // a value with a line break never gets this far (see `values`); anything else
            // a header cannot carry leaves the placeholder where it was
            if let Ok(v) = HeaderValue::from_bytes(&new) {
                *value = v;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Vec<Secret> {
        vec![
            Secret {
                name: "GITHUB_TOKEN".into(),
                hosts: vec!["github.com".into(), "api.github.com".into()],
                placeholder: "tmpl-placeholder-github_token-aa".into(),
                value: "ghp_REAL".into(),
            },
            Secret {
                name: "ANTHROPIC_API_KEY".into(),
                hosts: vec!["api.anthropic.com".into()],
                placeholder: "tmpl-placeholder-anthropic_api_key-bb".into(),
                value: "sk-ant-REAL".into(),
            },
        ]
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn bearer_api_key_and_any_header_get_the_value_at_their_host() {
        let mut h = headers(&[
            (
                "authorization",
                "Bearer tmpl-placeholder-anthropic_api_key-bb",
            ),
            ("x-api-key", "tmpl-placeholder-anthropic_api_key-bb"),
            ("x-other", "k=tmpl-placeholder-anthropic_api_key-bb;x"),
            ("user-agent", "curl"),
        ]);
        let out = rewrite(&mut h, Some("API.anthropic.com"), &secrets());
        assert_eq!(out.swapped, ["ANTHROPIC_API_KEY"]);
        assert!(out.withheld.is_empty());
        assert_eq!(h["authorization"], "Bearer sk-ant-REAL");
        assert_eq!(h["x-api-key"], "sk-ant-REAL");
        assert_eq!(h["x-other"], "k=sk-ant-REAL;x");
        assert_eq!(h["user-agent"], "curl");
    }

    #[test]
    fn basic_credentials_are_swapped_inside_their_base64() {
        let creds = STANDARD.encode("x-access-token:tmpl-placeholder-github_token-aa");
        let mut h = headers(&[("authorization", &format!("Basic {creds}"))]);
        let out = rewrite(&mut h, Some("github.com"), &secrets());
        assert_eq!(out.swapped, ["GITHUB_TOKEN"]);
        let sent = h["authorization"].to_str().unwrap();
        let decoded = STANDARD
            .decode(sent.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(decoded, b"x-access-token:ghp_REAL");
    }

    #[test]
    fn a_placeholder_to_a_host_that_does_not_own_it_stays_and_is_reported() {
        let creds = STANDARD.encode("u:tmpl-placeholder-github_token-aa");
        let mut h = headers(&[
            ("authorization", "Bearer tmpl-placeholder-github_token-aa"),
            ("proxy-thing", &format!("Basic {creds}")),
        ]);
        let before = h.clone();
        let out = rewrite(&mut h, Some("api.anthropic.com"), &secrets());
        assert_eq!(out.withheld, ["GITHUB_TOKEN"]);
        assert!(out.swapped.is_empty());
        assert_eq!(h, before);
        // a request that names another host than where it goes owns nothing
        let out = rewrite(&mut h, None, &secrets());
        assert_eq!(out.withheld, ["GITHUB_TOKEN"]);
        assert_eq!(h, before);
    }

    #[test]
    fn hosts_compare_without_case_port_or_final_dot() {
        assert_eq!(normal_host("API.Example.com.:443"), "api.example.com");
        assert_eq!(normal_host("example.com"), "example.com");
        assert_eq!(normal_host("[2001:db8::1]:443"), "2001:db8::1");
        assert!(secrets()[0].owned_by("api.github.com:443"));
        assert!(!secrets()[0].owned_by("github.com.evil.example"));
        assert!(!format!("{:?}", secrets()[0]).contains("REAL"));
    }
}
