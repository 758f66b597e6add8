//! Names on the host from names people write: a folder's name as the project's name.

/// A folder name as a host-safe name: `[a-z][a-z0-9-]{0,40}`.
pub fn sanitise(folder: &str) -> String {
    let mut out = String::new();
    for ch in folder.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_alphanumeric() {
            out.push(ch);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_matches('-').to_owned();
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.insert_str(0, "p-");
    }
    out.truncate(41);
    let out = out.trim_end_matches('-').to_owned();
    if out == "p" {
        "project".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitises_folder_names() {
        assert_eq!(sanitise("My App"), "my-app");
        assert_eq!(sanitise("my_app.v2"), "my-app-v2");
        assert_eq!(sanitise("2048"), "p-2048");
        assert_eq!(sanitise("---"), "project");
        assert_eq!(sanitise("Ünïcode"), "n-code");
        assert!(sanitise(&"x".repeat(100)).len() <= 41);
        for s in ["My App", "2048", "---", "a__b", &"é".repeat(60)] {
            assert!(crate::config::validate::valid_name(&sanitise(s)), "{s}");
        }
    }
}
