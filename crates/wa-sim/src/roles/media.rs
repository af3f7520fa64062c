//! The media role: a logged-in companion's `media_conn` IQ (`media.md` §3), answered with a
//! fresh upload `auth` token and the simulator's own HTTP address as the one media host
//! (uploads and downloads are served by [`media_http`](crate::media_http) on that port):
//!
//! ```text
//! <iq xmlns="w:m" type="set" id=…><media_conn/></iq>
//! → <iq type="result" id=…><media_conn auth=… ttl=… auth_ttl=… max_buckets=…>
//!       <host hostname="127.0.0.1:<port>" maxContentLengthBytes=…/></media_conn></iq>
//! ```
//!
//! `hostname` carries the port: clients build `<scheme>://<hostname>/mms/…` (the sim speaks
//! plain `http`). `maxContentLengthBytes` (read by Baileys, §3) is the store's per-file limit.

use wa_protocol::binary::Node;

use crate::nodes;
use crate::state::{Action, Shared};

/// Answers `<iq xmlns="w:m" type="set"><media_conn/></iq>`.
pub(crate) fn media_conn(shared: &Shared, id: &str) -> Vec<Action> {
    let mut rng = shared.fork_rng();
    let now = shared.now();
    let auth = shared.media.new_auth(now, &mut rng);
    let config = shared.media.config();
    let host = Node::new("host")
        .with_attr("hostname", shared.media.host())
        .with_attr("maxContentLengthBytes", config.max_file_bytes.to_string());
    let conn = Node::new("media_conn")
        .with_attr("auth", auth)
        .with_attr("ttl", config.conn_ttl.as_secs().to_string())
        .with_attr("auth_ttl", config.auth_ttl.as_secs().to_string())
        .with_attr("max_buckets", config.max_buckets.to_string())
        .with_children(vec![host]);
    shared.count("media:conn");
    vec![Action::Send(nodes::iq_result(
        id,
        now.unix_secs(),
        vec![conn],
    ))]
}
