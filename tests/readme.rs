//! The README's `.env` reference lists exactly the keys tmpl reads.

use tmpl::config::keys::KEYS;

#[test]
fn readme_table_lists_every_key_and_no_other() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("## The .env reference")
        .expect("README has `## The .env reference`");
    let section = &readme[start..];
    let section = &section[..section[3..]
        .find("\n## ")
        .map(|i| i + 3)
        .unwrap_or(section.len())];
    let documented: Vec<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    let keys: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    assert_eq!(
        documented, keys,
        "README table and src/config/keys.rs disagree"
    );
    for k in KEYS {
        let row = section
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", k.name)))
            .unwrap();
        let required = row.split('|').nth(2).unwrap().trim();
        assert_eq!(
            required.starts_with("yes"),
            k.required,
            "{}: required column",
            k.name
        );
    }
}
