//! WhatsApp JIDs (`user@server`, `user:device@server`, …).

use std::fmt;
use std::str::FromStr;

/// Errors from parsing a [`Jid`] or [`Server`] from text, or from a checked constructor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JidError {
    /// The input string was empty.
    #[error("empty JID")]
    Empty,
    /// The server part is empty.
    #[error("JID has an empty server")]
    EmptyServer,
    /// The server part is not a lowercase domain-like name (`[a-z][a-z0-9._-]*`).
    #[error("invalid JID server {0:?}")]
    InvalidServer(String),
    /// The user part contains characters outside `[A-Za-z0-9_-]`.
    #[error("invalid JID user {0:?} (allowed: ASCII letters, digits, '-', '_')")]
    InvalidUser(String),
    /// The device suffix (`:N`) is not a decimal `u16`.
    #[error("invalid JID device {0:?}")]
    InvalidDevice(String),
    /// The device number does not fit the server's wire form (≤ 255 for `s.whatsapp.net`,
    /// `lid`, `hosted`, `hosted.lid`; ≤ 65535 for `msgr` and `interop`; 0 elsewhere).
    #[error("device {device} is out of range for server {server} (max {max})")]
    DeviceOutOfRange {
        /// The device number that was given.
        device: u16,
        /// The JID's server.
        server: String,
        /// The largest device number that server allows.
        max: u16,
    },
    /// The agent suffix (`.N`) is not a decimal `u8`, or appears on a server other than
    /// `s.whatsapp.net`.
    #[error("invalid JID agent {0:?}")]
    InvalidAgent(String),
    /// The agent collides with an AD_JID domain byte (1 = lid, 128 = hosted, 129 = hosted.lid)
    /// and could not survive an encode/decode round trip.
    #[error("JID agent {0} is reserved (it is an AD_JID domain type)")]
    ReservedAgent(u8),
    /// The interop integrator prefix (`N-`) is not a decimal `u16`.
    #[error("invalid interop integrator {0:?}")]
    InvalidIntegrator(String),
}

/// Name syntax accepted for servers not known to [`Server`]: `[a-z][a-z0-9._-]*`.
fn valid_server_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_'))
}

/// Whether `user` only uses the characters allowed in a JID user part
/// (ASCII letters, digits, `-`, `_`; possibly empty).
pub(crate) fn valid_user(user: &str) -> bool {
    user.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A syntactically valid server name that is not one of the known [`Server`] variants.
///
/// Can only be obtained by parsing (`"example".parse::<Server>()`), which guarantees that it
/// never duplicates a known server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OtherServer(String);

impl OtherServer {
    /// The server name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The server (domain) part of a [`Jid`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Server {
    /// `s.whatsapp.net`: phone-number users; with an empty user, the WhatsApp server itself.
    WhatsApp,
    /// `g.us`: groups.
    Group,
    /// `c.us`: legacy user server.
    Legacy,
    /// `broadcast`: broadcast lists and `status@broadcast`.
    Broadcast,
    /// `lid`: hidden-user (LID) identities.
    Lid,
    /// `msgr`: Messenger users (FB_JID on the wire).
    Messenger,
    /// `interop`: interop users (INTEROP_JID on the wire).
    Interop,
    /// `newsletter`: channels.
    Newsletter,
    /// `hosted`: hosted (Cloud API) phone-number users.
    Hosted,
    /// `hosted.lid`: hosted LID users.
    HostedLid,
    /// `bot`: bots.
    Bot,
    /// `call`: call identifiers.
    Call,
    /// Any other server name (`[a-z][a-z0-9._-]*`); round-trips through text and the codec.
    Other(OtherServer),
}

impl Server {
    /// The server's name as written after `@`.
    pub fn as_str(&self) -> &str {
        match self {
            Server::WhatsApp => "s.whatsapp.net",
            Server::Group => "g.us",
            Server::Legacy => "c.us",
            Server::Broadcast => "broadcast",
            Server::Lid => "lid",
            Server::Messenger => "msgr",
            Server::Interop => "interop",
            Server::Newsletter => "newsletter",
            Server::Hosted => "hosted",
            Server::HostedLid => "hosted.lid",
            Server::Bot => "bot",
            Server::Call => "call",
            Server::Other(o) => o.as_str(),
        }
    }

    /// The AD_JID domain-type byte for servers that have a device-qualified (AD_JID) wire form.
    pub(crate) fn ad_domain(&self) -> Option<u8> {
        match self {
            Server::WhatsApp => Some(0),
            Server::Lid => Some(1),
            Server::Hosted => Some(128),
            Server::HostedLid => Some(129),
            _ => None,
        }
    }

    /// Largest device number the server's wire form can carry (0: no device at all).
    pub fn max_device(&self) -> u16 {
        match self {
            Server::WhatsApp | Server::Lid | Server::Hosted | Server::HostedLid => 255,
            Server::Messenger | Server::Interop => u16::MAX,
            _ => 0,
        }
    }
}

impl FromStr for Server {
    type Err = JidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "" => return Err(JidError::EmptyServer),
            "s.whatsapp.net" => Server::WhatsApp,
            "g.us" => Server::Group,
            "c.us" => Server::Legacy,
            "broadcast" => Server::Broadcast,
            "lid" => Server::Lid,
            "msgr" => Server::Messenger,
            "interop" => Server::Interop,
            "newsletter" => Server::Newsletter,
            "hosted" => Server::Hosted,
            "hosted.lid" => Server::HostedLid,
            "bot" => Server::Bot,
            "call" => Server::Call,
            other if valid_server_name(other) => Server::Other(OtherServer(other.to_owned())),
            other => return Err(JidError::InvalidServer(other.to_owned())),
        })
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A WhatsApp JID.
///
/// Text forms (see [`FromStr`] / [`Display`](fmt::Display), which round-trip):
///
/// * `server` — the server JID (empty user), e.g. `s.whatsapp.net`; `@server` also parses;
/// * `user@server`;
/// * `user:device@server` — device-qualified (AD) JID;
/// * `user.agent:device@s.whatsapp.net` — with a raw AD_JID agent (`s.whatsapp.net` only);
/// * `integrator-user[:device]@interop` — interop JIDs.
///
/// The plain constructors do not validate the user string (it is whatever the caller has);
/// untrusted text should go through [`FromStr`], and the decoder applies the same checks.
/// A device number that the server's wire form cannot carry (see [`Server::max_device`]) makes
/// encoding fail.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Jid {
    user: String,
    agent: u8,
    device: u16,
    integrator: u16,
    server: Server,
}

impl Jid {
    /// Internal constructor for the decoder and checked paths; no validation.
    pub(crate) fn from_parts(
        user: String,
        agent: u8,
        device: u16,
        integrator: u16,
        server: Server,
    ) -> Jid {
        Jid {
            user,
            agent,
            device,
            integrator,
            server,
        }
    }

    /// `user@server` (no device).
    pub fn user(user: impl Into<String>, server: Server) -> Jid {
        Jid::from_parts(user.into(), 0, 0, 0, server)
    }

    /// `user:device@server`. Device 0 is the primary device (same as [`Jid::user`]).
    pub fn device(user: impl Into<String>, device: u16, server: Server) -> Jid {
        Jid::from_parts(user.into(), 0, device, 0, server)
    }

    /// The server JID itself (empty user), e.g. `s.whatsapp.net`.
    pub fn server_jid(server: Server) -> Jid {
        Jid::from_parts(String::new(), 0, 0, 0, server)
    }

    /// `id@g.us`.
    pub fn group(id: impl Into<String>) -> Jid {
        Jid::user(id, Server::Group)
    }

    /// `user@lid`.
    pub fn lid(user: impl Into<String>) -> Jid {
        Jid::user(user, Server::Lid)
    }

    /// `id@newsletter`.
    pub fn newsletter(id: impl Into<String>) -> Jid {
        Jid::user(id, Server::Newsletter)
    }

    /// `status@broadcast`.
    pub fn status_broadcast() -> Jid {
        Jid::user("status", Server::Broadcast)
    }

    /// `user:device@msgr` (FB_JID on the wire).
    pub fn messenger(user: impl Into<String>, device: u16) -> Jid {
        Jid::from_parts(user.into(), 0, device, 0, Server::Messenger)
    }

    /// `integrator-user:device@interop` (INTEROP_JID on the wire).
    pub fn interop(user: impl Into<String>, device: u16, integrator: u16) -> Jid {
        Jid::from_parts(user.into(), 0, device, integrator, Server::Interop)
    }

    /// `user.agent:device@s.whatsapp.net` with a raw AD_JID agent byte.
    ///
    /// Fails with [`JidError::ReservedAgent`] for agents 1, 128 and 129, which are the
    /// domain types of `lid`, `hosted` and `hosted.lid`.
    pub fn with_agent(user: impl Into<String>, agent: u8, device: u8) -> Result<Jid, JidError> {
        if matches!(agent, 1 | 128 | 129) {
            return Err(JidError::ReservedAgent(agent));
        }
        Ok(Jid::from_parts(
            user.into(),
            agent,
            u16::from(device),
            0,
            Server::WhatsApp,
        ))
    }

    /// The user part (may be empty).
    pub fn user_part(&self) -> &str {
        &self.user
    }

    /// The raw AD_JID agent (non-zero only for some `s.whatsapp.net` JIDs).
    pub fn agent(&self) -> u8 {
        self.agent
    }

    /// The device number (0 = primary device / not device-qualified).
    pub fn device_id(&self) -> u16 {
        self.device
    }

    /// The interop integrator (non-zero only for `interop` JIDs).
    pub fn integrator(&self) -> u16 {
        self.integrator
    }

    /// The server.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Whether this is a group JID (`…@g.us`).
    pub fn is_group(&self) -> bool {
        self.server == Server::Group
    }

    /// Whether this is a server JID (empty user, no device/agent/integrator).
    pub fn is_server_jid(&self) -> bool {
        self.user.is_empty() && self.device == 0 && self.agent == 0 && self.integrator == 0
    }

    /// Whether the JID is device-qualified (non-zero device or agent).
    pub fn is_ad(&self) -> bool {
        self.device != 0 || self.agent != 0
    }

    /// The same JID without device and agent (`user:3@s.whatsapp.net` → `user@s.whatsapp.net`).
    /// The interop integrator is part of the user identity and is kept.
    pub fn to_non_ad(&self) -> Jid {
        Jid::from_parts(
            self.user.clone(),
            0,
            0,
            self.integrator,
            self.server.clone(),
        )
    }
}

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_server_jid() {
            return f.write_str(self.server.as_str());
        }
        if self.server == Server::Interop {
            write!(f, "{}-{}", self.integrator, self.user)?;
            if self.device != 0 {
                write!(f, ":{}", self.device)?;
            }
        } else if self.agent != 0 {
            write!(f, "{}.{}:{}", self.user, self.agent, self.device)?;
        } else if self.device != 0 {
            write!(f, "{}:{}", self.user, self.device)?;
        } else {
            f.write_str(&self.user)?;
        }
        write!(f, "@{}", self.server)
    }
}

impl fmt::Debug for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Jid({self})")
    }
}

/// Parses a non-empty run of ASCII digits (no sign, no whitespace) into `T`.
fn parse_digits<T: FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl FromStr for Jid {
    type Err = JidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(JidError::Empty);
        }
        let Some((user_part, server)) = s.split_once('@') else {
            return Ok(Jid::server_jid(s.parse()?));
        };
        let server: Server = server.parse()?;

        let mut rest = user_part;
        let mut integrator = 0;
        if server == Server::Interop {
            if let Some((prefix, user)) = rest.split_once('-') {
                integrator = parse_digits(prefix)
                    .ok_or_else(|| JidError::InvalidIntegrator(prefix.to_owned()))?;
                rest = user;
            }
        }
        let mut device = 0u16;
        if let Some((user, dev)) = rest.split_once(':') {
            device = parse_digits(dev).ok_or_else(|| JidError::InvalidDevice(dev.to_owned()))?;
            rest = user;
        }
        let mut agent = 0u8;
        if let Some((user, ag)) = rest.split_once('.') {
            if server != Server::WhatsApp {
                return Err(JidError::InvalidUser(user_part.to_owned()));
            }
            agent = parse_digits(ag).ok_or_else(|| JidError::InvalidAgent(ag.to_owned()))?;
            if matches!(agent, 1 | 128 | 129) {
                return Err(JidError::ReservedAgent(agent));
            }
            rest = user;
        }
        if !valid_user(rest) {
            return Err(JidError::InvalidUser(rest.to_owned()));
        }
        let max = server.max_device();
        if device > max {
            return Err(JidError::DeviceOutOfRange {
                device,
                server: server.to_string(),
                max,
            });
        }
        Ok(Jid::from_parts(
            rest.to_owned(),
            agent,
            device,
            integrator,
            server,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Jid, JidError> {
        s.parse()
    }

    #[test]
    fn parse_forms() -> Result<(), JidError> {
        let j = parse("1234567890@s.whatsapp.net")?;
        assert_eq!(j, Jid::user("1234567890", Server::WhatsApp));
        assert!(!j.is_ad());

        let j = parse("1234567890:12@s.whatsapp.net")?;
        assert_eq!(j, Jid::device("1234567890", 12, Server::WhatsApp));
        assert_eq!(j.to_non_ad(), Jid::user("1234567890", Server::WhatsApp));

        let j = parse("1234567890.5:3@s.whatsapp.net")?;
        assert_eq!(j, Jid::with_agent("1234567890", 5, 3)?);
        assert_eq!(j.agent(), 5);
        assert_eq!(j.to_string(), "1234567890.5:3@s.whatsapp.net");

        assert_eq!(parse("s.whatsapp.net")?, Jid::server_jid(Server::WhatsApp));
        assert_eq!(parse("@s.whatsapp.net")?, Jid::server_jid(Server::WhatsApp));
        assert_eq!(
            Jid::server_jid(Server::WhatsApp).to_string(),
            "s.whatsapp.net"
        );

        let j = parse("7-abc:300@interop")?;
        assert_eq!(j, Jid::interop("abc", 300, 7));
        assert_eq!(j.to_string(), "7-abc:300@interop");
        assert_eq!(parse("abc@interop")?, Jid::interop("abc", 0, 0));

        assert_eq!(parse("100:70000@msgr").ok(), None);
        assert_eq!(parse("100:7000@msgr")?, Jid::messenger("100", 7000));

        let g = parse("120363012345678901@g.us")?;
        assert!(g.is_group());
        assert_eq!(g, Jid::group("120363012345678901"));
        assert_eq!(
            parse("1234567890-1600000000@g.us")?.user_part(),
            "1234567890-1600000000"
        );

        let other = parse("abc@example.net")?;
        assert_eq!(other.server().as_str(), "example.net");
        assert_eq!(other.to_string(), "abc@example.net");
        assert_eq!(parse("status@broadcast")?, Jid::status_broadcast());
        Ok(())
    }

    #[test]
    fn parse_errors() {
        assert_eq!(parse(""), Err(JidError::Empty));
        assert_eq!(parse("abc@"), Err(JidError::EmptyServer));
        assert!(matches!(
            parse("1234567890"),
            Err(JidError::InvalidServer(_))
        ));
        assert!(matches!(parse("a@b@c"), Err(JidError::InvalidServer(_))));
        assert!(matches!(
            parse("a b@s.whatsapp.net"),
            Err(JidError::InvalidUser(_))
        ));
        assert!(matches!(
            parse("+123@s.whatsapp.net"),
            Err(JidError::InvalidUser(_))
        ));
        assert!(matches!(parse("a.b@g.us"), Err(JidError::InvalidUser(_))));
        assert!(matches!(
            parse("1:x@s.whatsapp.net"),
            Err(JidError::InvalidDevice(_))
        ));
        assert!(matches!(
            parse("1:+3@s.whatsapp.net"),
            Err(JidError::InvalidDevice(_))
        ));
        assert!(matches!(
            parse("1:256@s.whatsapp.net"),
            Err(JidError::DeviceOutOfRange {
                device: 256,
                max: 255,
                ..
            })
        ));
        assert!(matches!(
            parse("1:2@g.us"),
            Err(JidError::DeviceOutOfRange { max: 0, .. })
        ));
        assert!(matches!(
            parse("1.x:2@s.whatsapp.net"),
            Err(JidError::InvalidAgent(_))
        ));
        assert_eq!(
            parse("1.1:2@s.whatsapp.net"),
            Err(JidError::ReservedAgent(1))
        );
        assert!(matches!(
            parse("x-1@interop"),
            Err(JidError::InvalidIntegrator(_))
        ));
        assert!(matches!(
            parse("S.WHATSAPP.NET"),
            Err(JidError::InvalidServer(_))
        ));
        assert_eq!(
            Jid::with_agent("1", 128, 0),
            Err(JidError::ReservedAgent(128))
        );
    }
}
