//! What a VM's `IMAGE` names, decided from its form alone (no file system, no network): a
//! box already added, a `.box` file, or a cloud image by path or URL.

use std::path::PathBuf;

/// The image used when `.env` has no `IMAGE`. Vagrant Cloud stops serving at the end of
/// 2026, so the default is Debian's own published cloud image, not a box name.
pub const DEFAULT_IMAGE: &str =
    "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A Vagrant box already added, by name (`tmpl-test/debian12`).
    BoxName(String),
    /// A `.box` file on this host.
    BoxFile(PathBuf),
    /// A cloud image (`.qcow2`/`.img`) on this host.
    CloudImageFile(PathBuf),
    /// A cloud image to download once.
    CloudImageUrl(String),
}

/// What a bad `IMAGE` should have been, and an example.
pub struct Expected {
    pub expected: &'static str,
    pub example: &'static str,
}

/// `IMAGE` (or the default) as a VM's source.
pub fn parse(image: Option<&str>) -> Result<Source, Expected> {
    let s = image.unwrap_or(DEFAULT_IMAGE);
    let lower = s.to_ascii_lowercase();
    let url = lower.starts_with("http://") || lower.starts_with("https://");
    let cloud = lower.ends_with(".qcow2") || lower.ends_with(".img");
    if url && cloud {
        return Ok(Source::CloudImageUrl(s.to_owned()));
    }
    if url {
        return Err(Expected {
            expected: "a URL of a cloud image ending in `.qcow2` or `.img`",
            example: "IMAGE=https://example.org/debian-12-genericcloud-amd64.qcow2",
        });
    }
    if cloud {
        return Ok(Source::CloudImageFile(PathBuf::from(s)));
    }
    if lower.ends_with(".box") {
        return Ok(Source::BoxFile(PathBuf::from(s)));
    }
    if s.chars()
        .all(|ch| ch.is_ascii_alphanumeric() || "-_./".contains(ch))
        && !s.starts_with('/')
    {
        return Ok(Source::BoxName(s.to_owned()));
    }
    Err(Expected {
        expected: "a box name (`org/name`), a `.box` file, or a `.qcow2`/`.img` cloud image",
        example: "IMAGE=debian-12-genericcloud-amd64.qcow2",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_says_what_an_image_is() {
        let p = |s: &str| parse(Some(s)).ok();
        assert_eq!(
            parse(None).ok(),
            Some(Source::CloudImageUrl(DEFAULT_IMAGE.into()))
        );
        assert_eq!(
            p("tmpl-test/debian12"),
            Some(Source::BoxName("tmpl-test/debian12".into()))
        );
        assert_eq!(p("./x.box"), Some(Source::BoxFile("./x.box".into())));
        assert_eq!(
            p("/i/arch.qcow2"),
            Some(Source::CloudImageFile("/i/arch.qcow2".into()))
        );
        assert!(matches!(
            p("HTTPS://x/y.IMG"),
            Some(Source::CloudImageUrl(_))
        ));
        assert!(p("https://example.org/page").is_none());
        assert!(p("/abs/box-name").is_none());
    }
}
