//! The `media_conn` IQ (`media.md` §3): the upload auth token, how long it lives and the media
//! hosts.
//!
//! ```text
//! <iq id xmlns="w:m" type="set" to="s.whatsapp.net"><media_conn/></iq>
//! → <iq from="s.whatsapp.net" id type="result">
//!     <media_conn auth ttl auth_ttl max_buckets>
//!       <host hostname [type="primary|fallback"] [fallback_hostname] [maxContentLengthBytes]/>…
//!     </media_conn>
//!   </iq>
//! ```

use super::fields::{opt_num, opt_text, put, req_num};
use super::iq::{expect_iq, IqKind, IqRequest};
use super::parse::{bad, expect_tag, req_attr, req_child, server_jid, StanzaError};
use crate::binary::Node;

/// Namespace of the IQ (`media.md` §3).
pub const MEDIA_CONN_XMLNS: &str = "w:m";
/// Most `<host>` children accepted in one answer.
pub const MAX_MEDIA_HOSTS: usize = 32;

/// The request: `<iq xmlns="w:m" type="set"><media_conn/></iq>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MediaConnRequest;

impl MediaConnRequest {
    /// The request (the connection allocates the id).
    pub fn request(&self) -> IqRequest {
        IqRequest::new(MEDIA_CONN_XMLNS, IqKind::Set, vec![Node::new("media_conn")])
    }

    /// Parses the request (server side).
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_iq(node, IqKind::Set, MEDIA_CONN_XMLNS)?;
        req_child(node, "media_conn").map(|_| MediaConnRequest)
    }
}

/// One media host of the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaHost {
    /// `hostname`, e.g. `mmg.whatsapp.net` (a `host:port` for a simulator).
    pub hostname: String,
    /// `type`: `primary` or `fallback` when given.
    pub kind: Option<String>,
    /// `fallback_hostname` when given.
    pub fallback_hostname: Option<String>,
    /// `maxContentLengthBytes` when given (Baileys reads it, `media.md` §3).
    pub max_content_length: Option<u64>,
}

impl MediaHost {
    /// A host with only its name.
    pub fn new(hostname: impl Into<String>) -> MediaHost {
        MediaHost {
            hostname: hostname.into(),
            kind: None,
            fallback_hostname: None,
            max_content_length: None,
        }
    }

    fn to_node(&self) -> Node {
        let node = Node::new("host").with_attr("hostname", self.hostname.as_str());
        let node = put(node, "type", self.kind.as_deref());
        let node = put(node, "fallback_hostname", self.fallback_hostname.as_deref());
        put(node, "maxContentLengthBytes", self.max_content_length)
    }

    fn from_node(node: &Node) -> Result<MediaHost, StanzaError> {
        expect_tag(node, "host")?;
        let hostname = req_attr(node, "hostname")?;
        if hostname.is_empty() || hostname.contains(['/', '?', '#', '@']) {
            return Err(bad(node, "hostname", hostname));
        }
        Ok(MediaHost {
            hostname: hostname.to_owned(),
            kind: opt_text(node, "type")?,
            fallback_hostname: opt_text(node, "fallback_hostname")?,
            max_content_length: opt_num(node, "maxContentLengthBytes")?,
        })
    }
}

/// The answer: the upload `auth` token, its lifetime and the hosts (`media.md` §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConn {
    /// `auth`: the token every upload carries as `?auth=`.
    pub auth: String,
    /// `ttl`: seconds the answer may be cached (whatsmeow's expiry).
    pub ttl: u64,
    /// `auth_ttl`: seconds the auth token lives, when given.
    pub auth_ttl: Option<u64>,
    /// `max_buckets`, when given.
    pub max_buckets: Option<u32>,
    /// The hosts, in the server's order (1 to [`MAX_MEDIA_HOSTS`]).
    pub hosts: Vec<MediaHost>,
}

impl MediaConn {
    /// The answer to request `id` (server side).
    pub fn to_node(&self, id: &str) -> Node {
        let conn = Node::new("media_conn")
            .with_attr("auth", self.auth.as_str())
            .with_attr("ttl", self.ttl);
        let conn = put(conn, "auth_ttl", self.auth_ttl);
        let conn = put(conn, "max_buckets", self.max_buckets);
        let conn = conn.with_children(self.hosts.iter().map(MediaHost::to_node).collect());
        Node::new("iq")
            .with_attr("from", server_jid())
            .with_attr("id", id)
            .with_attr("type", "result")
            .with_children(vec![conn])
    }

    /// Parses the answer (client side): a non-empty `auth`, a `ttl` and 1 to
    /// [`MAX_MEDIA_HOSTS`] hosts.
    pub fn from_node(node: &Node) -> Result<MediaConn, StanzaError> {
        expect_tag(node, "iq")?;
        let kind = req_attr(node, "type")?;
        if kind != "result" {
            return Err(bad(node, "type", kind));
        }
        let conn = req_child(node, "media_conn")?;
        let auth = req_attr(conn, "auth")?;
        if auth.is_empty() {
            return Err(bad(conn, "auth", auth));
        }
        let hosts: Vec<&Node> = conn.children().iter().filter(|c| c.tag == "host").collect();
        if hosts.is_empty() || hosts.len() > MAX_MEDIA_HOSTS {
            return Err(bad(conn, "hosts", hosts.len()));
        }
        Ok(MediaConn {
            auth: auth.to_owned(),
            ttl: req_num(conn, "ttl")?,
            auth_ttl: opt_num(conn, "auth_ttl")?,
            max_buckets: opt_num(conn, "max_buckets")?,
            hosts: hosts
                .into_iter()
                .map(MediaHost::from_node)
                .collect::<Result<_, _>>()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_answer_round_trip_and_match_the_reference_shape() {
        let req = MediaConnRequest.request().to_node("m1");
        assert_eq!(req.attr_str("xmlns"), Some("w:m"));
        assert_eq!(req.attr_str("type"), Some("set"));
        assert!(req.child("media_conn").is_some());
        assert_eq!(MediaConnRequest::from_node(&req), Ok(MediaConnRequest));

        let answer = MediaConn {
            auth: "AUTH-TOKEN".into(),
            ttl: 300,
            auth_ttl: Some(21600),
            max_buckets: Some(12),
            hosts: vec![
                MediaHost {
                    kind: Some("primary".into()),
                    fallback_hostname: Some("mmg-fb.example".into()),
                    max_content_length: Some(104_857_600),
                    ..MediaHost::new("mmg.whatsapp.net")
                },
                MediaHost::new("127.0.0.1:8080"),
            ],
        };
        let node = answer.to_node("m1");
        assert_eq!(node.attr_str("type"), Some("result"));
        let conn = node.child("media_conn").expect("child");
        assert_eq!(conn.attr_str("auth"), Some("AUTH-TOKEN"));
        assert_eq!(conn.attr_str("ttl"), Some("300"));
        assert_eq!(MediaConn::from_node(&node), Ok(answer));
    }

    #[test]
    fn answers_without_auth_ttl_or_hosts_are_refused() {
        let ok = MediaConn {
            auth: "a".into(),
            ttl: 1,
            auth_ttl: None,
            max_buckets: None,
            hosts: vec![MediaHost::new("h")],
        };
        let mut no_hosts = ok.clone();
        no_hosts.hosts.clear();
        assert!(MediaConn::from_node(&no_hosts.to_node("1")).is_err());
        let mut no_auth = ok.clone();
        no_auth.auth.clear();
        assert!(MediaConn::from_node(&no_auth.to_node("1")).is_err());
        let mut bad_host = ok;
        bad_host.hosts = vec![MediaHost::new("evil.example/path")];
        assert!(MediaConn::from_node(&bad_host.to_node("1")).is_err());
        let wrong = MediaConnRequest.request().to_node("1");
        assert!(MediaConn::from_node(&wrong).is_err());
    }
}
