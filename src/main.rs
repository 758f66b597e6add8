fn main() -> std::process::ExitCode {
    // Like any Unix filter: `tmpl ls | head` ends quietly when the reader goes away, instead
    // of panicking on a write to a closed pipe (Rust ignores SIGPIPE by default).
    // SAFETY: called first thing in main, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::ExitCode::from(tmpl::run(std::env::args_os()))
}
