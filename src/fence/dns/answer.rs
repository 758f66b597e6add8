//! What the guest's resolver answers, pure: from a query and the guest's policy to a reply
//! made here or a question for the upstream, and from the upstream's answer to the addresses
//! the fence opens and for how long.

use super::config::Config;
use crate::fence::rules::Opened;
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::HashSet;
use std::net::IpAddr;

/// An address stays open at least this long, whatever the answer's TTL (a TTL of 0 or 5
/// seconds would close it while the guest is still connecting), ...
pub const FLOOR_SECS: u64 = 60;
/// ... at most this long (a TTL of a day would keep it open long after the name moved), ...
pub const CAP_SECS: u64 = 3600;
/// ... plus this, for a client that connects just as its cached answer expires.
pub const GRACE_SECS: u64 = 60;

/// The name `host.tmpl.internal`, which the resolver answers itself with the gateway.
pub const HOST_NAME: &str = "host.tmpl.internal";

/// What to do with one query.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Answer it here, with these bytes: it never leaves the host.
    Reply(Vec<u8>),
    /// Ask the upstream; `opens`: the ports (None: every port) its addresses open.
    Forward { opens: Vec<Option<u16>> },
}

/// A name as the policy compares names: lower case, without the final dot.
pub fn plain(name: &Name) -> String {
    name.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

/// The reply to `query` with `code` and no records.
pub fn refuse(query: &Message, code: ResponseCode) -> Vec<u8> {
    let mut m = Message::error_msg(query.metadata.id, query.metadata.op_code, code);
    m.metadata.recursion_desired = query.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.add_queries(query.queries.iter().cloned());
    m.to_vec().unwrap_or_default()
}

/// Decides on one query (`None`: not a question; it gets no answer).
pub fn decide(config: &Config, bytes: &[u8]) -> Option<Decision> {
    let Ok(q) = Message::from_vec(bytes) else {
        // unreadable: a FORMERR needs the id, which the first two bytes are
        let id = u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]);
        let m = Message::error_msg(id, OpCode::Query, ResponseCode::FormErr);
        return Some(Decision::Reply(m.to_vec().ok()?));
    };
    if q.metadata.message_type != MessageType::Query {
        return None;
    }
    if q.metadata.op_code != OpCode::Query || q.queries.len() != 1 {
        return Some(Decision::Reply(refuse(&q, ResponseCode::NotImp)));
    }
    let question = &q.queries[0];
    let name = plain(question.name());
    if let (Some(gw), HOST_NAME) = (config.host, name.as_str()) {
        let mut m = Message::response(q.metadata.id, OpCode::Query);
        m.metadata.recursion_desired = q.metadata.recursion_desired;
        m.metadata.recursion_available = true;
        m.metadata.authoritative = true;
        m.add_query(question.clone());
        if question.query_type() == RecordType::A {
            m.add_answer(Record::from_rdata(
                question.name().clone(),
                60,
                RData::A(gw.into()),
            ));
        }
        return Some(Decision::Reply(m.to_vec().ok()?));
    }
    let opens: Vec<Option<u16>> = config
        .names
        .iter()
        .filter(|(n, _)| *n == name)
        .map(|(_, p)| *p)
        .collect();
    if opens.is_empty() && !config.all_names {
        // outside the policy: answered here, so the name never reaches another resolver
        return Some(Decision::Reply(refuse(&q, ResponseCode::Refused)));
    }
    Some(Decision::Forward { opens })
}

/// The addresses an answer gives for `question` (its CNAME chain followed within the answer),
/// each with how long it stays open, once for each port in `opens`.
pub fn opened(question: &Name, answer: &Message, opens: &[Option<u16>]) -> Opened {
    let mut chain: HashSet<String> = HashSet::from([plain(question)]);
    // a chain is at most as long as the answer; each pass adds the next link
    for _ in 0..answer.answers.len() {
        let before = chain.len();
        for r in &answer.answers {
            if let RData::CNAME(target) = &r.data {
                if chain.contains(&plain(&r.name)) {
                    chain.insert(plain(&target.0));
                }
            }
        }
        if chain.len() == before {
            break;
        }
    }
    let mut out = Opened::new();
    for r in answer
        .answers
        .iter()
        .filter(|r| chain.contains(&plain(&r.name)))
    {
        let ip: IpAddr = match &r.data {
            RData::A(a) => a.0.into(),
            RData::AAAA(a) => a.0.into(),
            _ => continue,
        };
        let secs = u64::from(r.ttl).clamp(FLOOR_SECS, CAP_SECS) + GRACE_SECS;
        for port in opens {
            out.push((ip, *port, secs));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;
    use hickory_proto::rr::rdata::{A, CNAME};

    fn config(all: bool) -> Config {
        Config {
            listen: "10.137.1.1".parse().unwrap(),
            port: 10053,
            all_names: all,
            names: vec![("pypi.org".into(), None), ("nas.lan".into(), Some(445))],
            host: Some("10.137.1.1".parse().unwrap()),
            table: "t".into(),
            families: vec!["inet".into()],
            upstream: vec![],
            netns_file: None,
            state: "/nowhere".into(),
        }
    }

    fn query(name: &str, t: RecordType) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
        m.to_vec().unwrap()
    }

    fn code(d: Option<Decision>) -> ResponseCode {
        match d {
            Some(Decision::Reply(b)) => Message::from_vec(&b).unwrap().metadata.response_code,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn under_none_only_allowed_names_leave_the_host() {
        let c = config(false);
        assert_eq!(
            code(decide(&c, &query("c2VjcmV0.exfil.example.", RecordType::A))),
            ResponseCode::Refused
        );
        // a subdomain of an allowed name is another name
        assert_eq!(
            code(decide(&c, &query("x.pypi.org.", RecordType::TXT))),
            ResponseCode::Refused
        );
        assert_eq!(
            decide(&c, &query("PyPI.org.", RecordType::AAAA)),
            Some(Decision::Forward { opens: vec![None] })
        );
        assert_eq!(
            decide(&c, &query("nas.lan", RecordType::A)),
            Some(Decision::Forward {
                opens: vec![Some(445)]
            })
        );
        assert_eq!(
            decide(&config(true), &query("example.com.", RecordType::A)),
            Some(Decision::Forward { opens: vec![] })
        );
        assert_eq!(code(decide(&c, b"\x12\x34garbage")), ResponseCode::FormErr);
    }

    #[test]
    fn the_host_is_answered_here() {
        let Some(Decision::Reply(b)) =
            decide(&config(false), &query("host.tmpl.internal.", RecordType::A))
        else {
            panic!()
        };
        let m = Message::from_vec(&b).unwrap();
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].data, RData::A(A::new(10, 137, 1, 1)));
    }

    #[test]
    fn the_whole_cname_chain_opens_for_its_ttl_with_a_floor() {
        let n = |s: &str| Name::from_ascii(s).unwrap();
        let mut m = Message::response(1, OpCode::Query);
        m.add_answer(Record::from_rdata(
            n("pypi.org."),
            300,
            RData::CNAME(CNAME(n("d.fastly.net."))),
        ));
        m.add_answer(Record::from_rdata(
            n("d.fastly.net."),
            5,
            RData::A(A::new(203, 0, 113, 9)),
        ));
        m.add_answer(Record::from_rdata(
            n("other.example."),
            5,
            RData::A(A::new(203, 0, 113, 66)),
        ));
        let got = opened(&n("pypi.org."), &m, &[None, Some(443)]);
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(got, vec![(ip, None, 120), (ip, Some(443), 120)]);
        assert!(opened(&n("x.org."), &m, &[None]).is_empty());
    }
}
