//! The CLI without any VM or container: help, validate, render, init (trycmd cases in
//! tests/cmd/). Each case runs in a copy of its `.in` folder with a fixed environment.

#[test]
fn cli() {
    trycmd::TestCases::new()
        .env("NO_COLOR", "1")
        .env("TMPL_LIBVIRT_DRIVER", "qemu")
        .env("XDG_CACHE_HOME", "/tmp/tmpl-trycmd/cache")
        .env("XDG_STATE_HOME", "/tmp/tmpl-trycmd/state")
        .env("XDG_CONFIG_HOME", "/tmp/tmpl-trycmd/config")
        .case("tests/cmd/*.toml");
}

/// Cases that need a user's own templates in `$XDG_CONFIG_HOME/tmpl/`
/// (`tests/cmd-config/xdg/tmpl/`: a Vagrantfile.tera and an init template).
#[test]
fn cli_with_user_templates() {
    trycmd::TestCases::new()
        .env("NO_COLOR", "1")
        .env("TMPL_LIBVIRT_DRIVER", "qemu")
        .env("XDG_CACHE_HOME", "/tmp/tmpl-trycmd/cache")
        .env("XDG_STATE_HOME", "/tmp/tmpl-trycmd/state")
        .env(
            "XDG_CONFIG_HOME",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cmd-config/xdg"),
        )
        .case("tests/cmd-config/*.toml");
}
