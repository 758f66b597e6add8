//! A cloud image's NoCloud seed: cloud-init's user-data and meta-data, typed and written by
//! serde_norway, so a key or hostname with YAML's special characters is quoted, never
//! spliced into the document.

use serde::Serialize;

/// user-data: the login user with the project's key (and an ordinary person's ids, see
/// `login`), the hostname, the root filesystem grown to the disk, and the host key tmpl made,
/// the only one: sshd starts without generating any (RSA takes seconds under emulation) and
/// tmpl's pin is exact from the first contact.
#[derive(Serialize)]
struct UserData<'a> {
    hostname: &'a str,
    manage_etc_hosts: bool,
    ssh_deletekeys: bool,
    ssh_genkeytypes: [&'a str; 0],
    ssh_keys: SshKeys<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    bootcmd: Vec<Vec<String>>,
    users: [User<'a>; 1],
    ssh_pwauth: bool,
    growpart: Growpart,
    resize_rootfs: bool,
}

#[derive(Serialize)]
struct SshKeys<'a> {
    ed25519_private: &'a str,
    ed25519_public: &'a str,
}

#[derive(Serialize)]
struct User<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<u32>,
    /// A group's name to cloud-init: the gid as text, the group `login` makes first.
    #[serde(skip_serializing_if = "Option::is_none")]
    primary_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    no_user_group: Option<bool>,
    sudo: &'a str,
    shell: &'a str,
    lock_passwd: bool,
    ssh_authorized_keys: [&'a str; 1],
}

#[derive(Serialize)]
struct Growpart {
    mode: &'static str,
    devices: [&'static str; 1],
}

#[derive(Serialize)]
struct MetaData<'a> {
    #[serde(rename = "instance-id")]
    instance_id: &'a str,
    #[serde(rename = "local-hostname")]
    local_hostname: &'a str,
}

/// What user-data says of the guest.
pub struct Guest<'a> {
    pub hostname: &'a str,
    pub user: &'a str,
    /// The person's uid and gid for the login user, when it gets them (`login::wanted`).
    pub ids: Option<(u32, u32)>,
    pub public_key: &'a str,
    /// OpenSSH's private key text and the public key line.
    pub host_key: (&'a str, &'a str),
}

fn yaml(value: &impl Serialize) -> String {
    // these structs hold only strings, numbers, booleans and lists: always YAML
    serde_norway::to_string(value).expect("cloud-config from fixed structs")
}

pub fn user_data(g: &Guest) -> String {
    let data = UserData {
        hostname: g.hostname,
        manage_etc_hosts: true,
        ssh_deletekeys: true,
        ssh_genkeytypes: [],
        ssh_keys: SshKeys {
            ed25519_private: g.host_key.0,
            ed25519_public: g.host_key.1,
        },
        bootcmd: g
            .ids
            .map(|(_, gid)| vec![super::login::bootcmd(gid)])
            .unwrap_or_default(),
        users: [User {
            name: g.user,
            uid: g.ids.map(|(uid, _)| uid),
            primary_group: g.ids.map(|(_, gid)| gid.to_string()),
            no_user_group: g.ids.map(|_| true),
            sudo: "ALL=(ALL) NOPASSWD:ALL",
            shell: "/bin/bash",
            lock_passwd: true,
            ssh_authorized_keys: [g.public_key],
        }],
        ssh_pwauth: false,
        growpart: Growpart {
            mode: "auto",
            devices: ["/"],
        },
        resize_rootfs: true,
    };
    // cloud-init reads user-data as cloud-config only under this first line, a YAML comment
    // that no serializer writes
    format!("#cloud-config\n{}", yaml(&data))
}

pub fn meta_data(instance_id: &str, hostname: &str) -> String {
    yaml(&MetaData {
        instance_id,
        local_hostname: hostname,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_norway::Value;

    const PRIVATE: &str =
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\nNzaC1l\n-----END OPENSSH PRIVATE KEY-----\n";

    fn guest(ids: Option<(u32, u32)>) -> Guest<'static> {
        Guest {
            hostname: "my-app",
            user: "tmpl",
            ids,
            public_key: "ssh-ed25519 AAAA tmpl",
            host_key: (PRIVATE, "ssh-ed25519 BBBB host"),
        }
    }

    fn parsed(text: &str) -> Value {
        serde_norway::from_str(text).unwrap()
    }

    #[test]
    fn user_data_says_what_the_hand_written_one_said() {
        let text = user_data(&guest(Some((2310, 2320))));
        assert!(text.starts_with("#cloud-config\n"), "{text}");
        let expected = "#cloud-config\nhostname: my-app\nmanage_etc_hosts: true\nssh_deletekeys: true\nssh_genkeytypes: []\nssh_keys:\n  ed25519_private: |\n    -----BEGIN OPENSSH PRIVATE KEY-----\n    b3Blbn\n    NzaC1l\n    -----END OPENSSH PRIVATE KEY-----\n  ed25519_public: 'ssh-ed25519 BBBB host'\nbootcmd:\n  - [sh, -c, 'getent group 2320 >/dev/null || groupadd --gid 2320 tmpl']\nusers:\n  - name: tmpl\n    uid: 2310\n    primary_group: '2320'\n    no_user_group: true\n    sudo: 'ALL=(ALL) NOPASSWD:ALL'\n    shell: /bin/bash\n    lock_passwd: true\n    ssh_authorized_keys:\n      - 'ssh-ed25519 AAAA tmpl'\nssh_pwauth: false\ngrowpart:\n  mode: auto\n  devices: ['/']\nresize_rootfs: true\n";
        assert_eq!(parsed(&text), parsed(expected), "{text}");
    }

    #[test]
    fn without_ids_the_image_keeps_its_own() {
        let v = parsed(&user_data(&guest(None)));
        assert!(v.get("bootcmd").is_none());
        let user = &v["users"][0];
        assert_eq!(user["name"], Value::from("tmpl"));
        assert!(user.get("uid").is_none() && user.get("primary_group").is_none());
    }

    #[test]
    fn a_hostname_is_quoted_where_yaml_would_read_it_otherwise() {
        let v = parsed(&meta_data("tmpl-x", "yes: no"));
        assert_eq!(v["local-hostname"], Value::from("yes: no"));
        assert_eq!(v["instance-id"], Value::from("tmpl-x"));
    }
}
