//! `IMAGE`: what it names, decided from its form alone.

use super::Checker;
use crate::config::types::*;
use std::path::PathBuf;

pub(super) fn check_image(c: &mut Checker, infra: InfraType) -> Option<Image> {
    let v = c.optional("IMAGE");
    let bad_chars = |s: &str| s.chars().any(|ch| ch.is_control() || ch.is_whitespace());
    if let Some(s) = &v {
        if bad_chars(s) {
            c.problem(
                "IMAGE",
                "an image without spaces or control characters",
                None,
            );
            return None;
        }
    }
    match infra {
        InfraType::Container => {
            let s = v.unwrap_or_else(|| DEFAULT_CONTAINER_IMAGE.to_owned());
            Some(Image::Container(s))
        }
        InfraType::Vm => {
            let s = v.unwrap_or_else(|| DEFAULT_VM_IMAGE.to_owned());
            let lower = s.to_ascii_lowercase();
            let url = lower.starts_with("http://") || lower.starts_with("https://");
            let cloud = lower.ends_with(".qcow2") || lower.ends_with(".img");
            if url && cloud {
                return Some(Image::CloudImageUrl(s));
            }
            if url {
                c.problem(
                    "IMAGE",
                    "a URL of a cloud image ending in `.qcow2` or `.img`",
                    Some("IMAGE=https://example.org/debian-12-genericcloud-amd64.qcow2".into()),
                );
                return None;
            }
            if cloud {
                return Some(Image::CloudImageFile(PathBuf::from(s)));
            }
            if lower.ends_with(".box") {
                return Some(Image::BoxFile(PathBuf::from(s)));
            }
            if s.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_./".contains(ch))
                && !s.starts_with('/')
            {
                return Some(Image::BoxName(s));
            }
            c.problem(
                "IMAGE",
                "a box name (`org/name`), a `.box` file, or a `.qcow2`/`.img` cloud image",
                Some("IMAGE=debian-12-genericcloud-amd64.qcow2".into()),
            );
            None
        }
    }
}
