//! Each guest's own certificate authority, and the certificates it signs for the hosts that
//! own a secret. The guest trusts the CA (its certificate only: the key stays in the
//! project's state on the host, mode 0600, and never enters the guest). The CA is limited by
//! name constraints to the hosts in `SECRETS`, so even its key could vouch for no other
//! host; it is made again when those hosts change.

use anyhow::{Context as _, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, KeyPair, KeyUsagePurpose, NameConstraints,
};
use std::path::Path;

/// A host's certificate and key, PEM, as the broker serves them.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Leaf {
    pub host: String,
    /// The host's certificate, then the CA's.
    pub chain_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for Leaf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Leaf({})", self.host)
    }
}

/// Valid from `from` days from now to `to` days from now (whole days, UTC, as rcgen takes
/// dates).
fn validity(p: &mut CertificateParams, from: i64, to: i64) {
    let ymd = |days: i64| {
        let t = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * days);
        let d = t.to_zoned(jiff::tz::TimeZone::UTC).date();
        rcgen::date_time_ymd(i32::from(d.year()), d.month() as u8, d.day() as u8)
    };
    p.not_before = ymd(from);
    p.not_after = ymd(to);
}

fn ca_params(slug: &str, hosts: &[String]) -> Result<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "tmpl");
    dn.push(
        DnType::CommonName,
        format!("tmpl credential broker for {slug}"),
    );
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.name_constraints = Some(NameConstraints {
        permitted_subtrees: hosts.iter().cloned().map(GeneralSubtree::DnsName).collect(),
        excluded_subtrees: Vec::new(),
    });
    validity(&mut p, -1, 3650);
    Ok(p)
}

/// The guest's CA, kept in `dir`: made when there is none or its hosts changed. Returns its
/// certificate (PEM) and key.
pub fn ensure(dir: &Path, slug: &str, hosts: &[String]) -> Result<(String, KeyPair)> {
    let (cert_file, key_file, hosts_file) = (
        dir.join("ca.pem"),
        dir.join("ca-key.pem"),
        dir.join("ca-hosts.json"),
    );
    let same_hosts = std::fs::read_to_string(&hosts_file)
        .ok()
        .and_then(|t| serde_json::from_str::<Vec<String>>(&t).ok())
        .is_some_and(|h| h == hosts);
    if same_hosts {
        if let (Ok(cert), Ok(key)) = (
            std::fs::read_to_string(&cert_file),
            std::fs::read_to_string(&key_file),
        ) {
            if let Ok(key) = KeyPair::from_pem(&key) {
                return Ok((cert, key));
            }
        }
    }
    let key = KeyPair::generate().context("cannot make a key for the guest's CA")?;
    let cert = ca_params(slug, hosts)?.self_signed(&key)?;
    crate::ssh::private_dir(dir)?;
    crate::atomic::write(&key_file, key.serialize_pem().as_bytes(), 0o600)?;
    crate::atomic::write(&cert_file, cert.pem().as_bytes(), 0o600)?;
    crate::atomic::write(&hosts_file, &serde_json::to_vec(hosts)?, 0o600)?;
    Ok((cert.pem(), key))
}

/// A certificate for each host, signed by the CA, valid for a year from now: made afresh
/// each time a broker starts.
pub fn leaves(slug: &str, hosts: &[String], ca_pem: &str, ca_key: &KeyPair) -> Result<Vec<Leaf>> {
    // the issuer's name and key are what a signature needs: the same parameters give them
    let issuer = ca_params(slug, hosts)?.self_signed(ca_key)?;
    hosts
        .iter()
        .map(|host| {
            let key = KeyPair::generate()?;
            let mut p = CertificateParams::new(vec![host.clone()])?;
            let mut dn = DistinguishedName::new();
            dn.push(DnType::CommonName, host.clone());
            p.distinguished_name = dn;
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            p.use_authority_key_identifier_extension = true;
            validity(&mut p, -1, 365);
            let cert = p.signed_by(&key, &issuer, ca_key)?;
            Ok(Leaf {
                host: host.clone(),
                chain_pem: format!("{}{ca_pem}", cert.pem()),
                key_pem: key.serialize_pem(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_until_the_hosts_change_and_its_key_stays_private() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = vec!["github.com".to_owned()];
        let (a, _) = ensure(dir.path(), "app-1", &hosts).unwrap();
        let (b, key) = ensure(dir.path(), "app-1", &hosts).unwrap();
        assert_eq!(a, b);
        let (c, _) = ensure(dir.path(), "app-1", &["api.github.com".to_owned()]).unwrap();
        assert_ne!(a, c);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("ca-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let leaves = leaves("app-1", &hosts, &b, &key).unwrap();
        assert_eq!(leaves.len(), 1);
        assert!(leaves[0].chain_pem.ends_with(&b));
        assert!(!b.contains("PRIVATE"));
    }
}
