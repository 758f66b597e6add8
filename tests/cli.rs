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
