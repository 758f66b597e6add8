//! Credentials in `IMAGE` (`https://user:password@host/image.qcow2`) never reach an argument
//! list, which every user of the host can read, nor a message. A stand-in `curl` records the
//! arguments it was given and what it was told in the config file it was handed.

mod fakes;
use fakes::Setup;

const CURL: &str = r#"#!/bin/bash
printf '%s\n' "$@" > "$TMPL_TEST_DIR/curl-args"
prev=
for a in "$@"; do
  [ "$prev" = --config ] && cat "$a" > "$TMPL_TEST_DIR/curl-config"
  prev=$a
done
exit 22
"#;

#[test]
fn url_credentials_stay_out_of_arguments_and_messages() {
    let env = "INFRA_TYPE=vm\nMEMORY=256\nCPUS=1\nDISK=2\nSYNC=none\nIMAGE=https://me:s3cret-pw@127.0.0.1:9/images/cloud.qcow2\n";
    let s = Setup::new(false, env);
    s.fake("curl", CURL);
    let trust = s.cmd(&["trust"]).output().unwrap();
    let up = s.cmd(&["up"]).output().unwrap();
    let status = s
        .cmd(&["status"])
        .stdout(std::process::Stdio::piped())
        .output()
        .unwrap();
    let printed = [trust.stderr, up.stderr, status.stdout, status.stderr]
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .join("\n");
    assert_ne!(up.status.code(), Some(0), "the stand-in download fails");
    assert!(
        printed.contains("https://***@127.0.0.1:9/images/cloud.qcow2"),
        "{printed}"
    );
    assert!(
        !printed.contains("s3cret"),
        "a message showed the password:\n{printed}"
    );
    let args = std::fs::read_to_string(s.path("curl-args")).expect("curl ran");
    assert!(
        !args.contains("s3cret"),
        "curl's arguments held the password:\n{args}"
    );
    assert!(
        args.contains("https://127.0.0.1:9/images/cloud.qcow2"),
        "{args}"
    );
    let config = std::fs::read_to_string(s.path("curl-config")).unwrap();
    assert_eq!(config.trim(), "user = \"me:s3cret-pw\"");
}
