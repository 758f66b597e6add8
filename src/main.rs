fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(tmpl::run(std::env::args_os()))
}
