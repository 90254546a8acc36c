//! `show protocols` and `show protocols all "name"`: each protocol's row (its state,
//! since when, its BGP session state and error) and a protocol's detail (neighbour,
//! channels, route counts). Answers "what state is each protocol and BGP session in,
//! and how many routes does it export?"

use serde::Serialize;

use super::{daemon_check, spans, unexpected};
use crate::bird::{BirdError, Reply};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ProtoState {
    Down,
    Start,
    Up,
    Stop,
    Flush,
    Other(String),
}

impl ProtoState {
    pub fn as_str(&self) -> &str {
        match self {
            ProtoState::Down => "down",
            ProtoState::Start => "start",
            ProtoState::Up => "up",
            ProtoState::Stop => "stop",
            ProtoState::Flush => "flush",
            ProtoState::Other(s) => s,
        }
    }

    pub(super) fn from_word(s: &str) -> Self {
        match s {
            "down" => ProtoState::Down,
            "start" => ProtoState::Start,
            "up" => ProtoState::Up,
            "stop" => ProtoState::Stop,
            "flush" => ProtoState::Flush,
            other => ProtoState::Other(other.to_string()),
        }
    }
}

/// One row of `show protocols`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Protocol {
    pub name: String,
    pub proto: String,
    pub table: String,
    pub state: ProtoState,
    /// One token normally; two for `iso long` ("2026-11-27 07:10:02").
    pub since: String,
    /// Rest of the row, inner spacing kept, trailing spaces trimmed.
    pub info: String,
    /// BGP only: first word of `info` ("Established", "Active", ...).
    pub bgp_state: Option<String>,
    /// BGP only: the rest of `info` ("Socket: Connection refused").
    pub bgp_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RouteCounts {
    pub imported: u64,
    pub exported: u64,
    pub preferred: u64,
}

/// A `Channel ipv4` sub-block of `show protocols all` (2.x).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Channel {
    pub name: String,
    pub state: Option<String>,
    pub table: Option<String>,
    pub routes: Option<RouteCounts>,
}

/// `show protocols all "name"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProtocolDetail {
    pub protocol: Protocol,
    pub description: Option<String>,
    /// Shutdown communication (`disable "x" "msg"`, RFC 8203).
    pub message: Option<String>,
    pub bgp_state: Option<String>,
    pub neighbor_address: Option<String>,
    pub neighbor_as: Option<u32>,
    pub local_as: Option<u32>,
    pub last_error: Option<String>,
    pub channels: Vec<Channel>,
    /// 1.6: the protocol's own `Routes:` line; 2.x: the first channel's.
    pub routes: Option<RouteCounts>,
}

impl ProtocolDetail {
    /// The 2.x channel that carries `prefix`'s address family: `ipv6` for an IPv6
    /// prefix, `ipv4` otherwise.
    pub fn channel_for(&self, prefix: &str) -> Option<&Channel> {
        let family = if prefix.contains(':') { "ipv6" } else { "ipv4" };
        self.channels.iter().find(|c| c.name == family)
    }

    /// Routes exported in `prefix`'s family: that channel's count, not the first
    /// channel's (a dual-stack session exports on both); 0 while the channel is down
    /// (BIRD prints no `Routes:` line then). BIRD 1.6 has no channels: the protocol's
    /// own count. `None` when unknown, e.g. no channel of that family.
    pub fn exported_for(&self, prefix: &str) -> Option<u64> {
        if self.channels.is_empty() {
            let down = self.protocol.state != ProtoState::Up;
            return self
                .routes
                .map(|r| r.exported)
                .or_else(|| down.then_some(0));
        }
        let ch = self.channel_for(prefix)?;
        let down = !ch
            .state
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("UP"));
        ch.routes.map(|r| r.exported).or_else(|| down.then_some(0))
    }
}

fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn looks_like_time(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_digit())
        && s.contains(':')
        && s.chars()
            .all(|c| c.is_ascii_digit() || c == ':' || c == '.')
}

/// One `show protocols` row, split on whitespace (long names shift columns).
fn parse_protocol_row(text: &str) -> Result<Protocol, BirdError> {
    let t = spans(text);
    if t.len() < 5 {
        return Err(BirdError::Parse(format!(
            "protocol row with {} fields: {:?}",
            t.len(),
            text.trim()
        )));
    }
    let (since, rest) = match t.get(5) {
        // `iso long` timeformat: date and time are two tokens.
        Some(&(p, tok)) if looks_like_date(t[4].1) && looks_like_time(tok) => {
            (&text[t[4].0..p + tok.len()], 6)
        }
        _ => (t[4].1, 5),
    };
    let info = t
        .get(rest)
        .map(|&(p, _)| text[p..].trim_end())
        .unwrap_or("");
    let proto = t[1].1;
    let state = ProtoState::from_word(t[3].1);
    let (bgp_state, bgp_error) = if proto.eq_ignore_ascii_case("BGP") {
        bgp_info(&state, info)
    } else {
        (None, None)
    };
    Ok(Protocol {
        name: t[0].1.to_string(),
        proto: proto.to_string(),
        table: t[2].1.to_string(),
        state,
        since: since.to_string(),
        info: info.to_string(),
        bgp_state,
        bgp_error,
    })
}

/// BGP session states as BIRD prints them (`proto/bgp/bgp.c`, `bgp_state_dsc`).
const BGP_STATES: [&str; 9] = [
    "Idle",
    "Connect",
    "Active",
    "OpenSent",
    "OpenConfirm",
    "Established",
    "Close",
    "Passive",
    "Down",
];

/// A BGP row's Info column: the session state, then the error class and message. BIRD
/// leaves the state word out when the protocol is `down` (`bgp_get_status`: only
/// "Automatic shutdown: Route limit exceeded"), so the session is `Down` and the whole
/// column is the error; a first word that is no session state is never taken for one.
fn bgp_info(state: &ProtoState, info: &str) -> (Option<String>, Option<String>) {
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let (word, tail) = info.split_once(char::is_whitespace).unwrap_or((info, ""));
    if BGP_STATES.contains(&word) {
        (Some(word.to_string()), some(tail.trim()))
    } else if *state == ProtoState::Down {
        (Some("Down".to_string()), some(info))
    } else {
        (None, some(info))
    }
}

/// `show protocols` (also accepts `show protocols all`, ignoring the details).
pub fn parse_protocols(r: &Reply) -> Result<Vec<Protocol>, BirdError> {
    daemon_check(r)?;
    let mut out = Vec::new();
    for l in &r.lines {
        match l.code {
            1002 => out.push(parse_protocol_row(&l.text)?),
            2002 | 1006 => {}
            c if c < 1000 => {}
            c => return Err(unexpected(c, &l.text)),
        }
    }
    Ok(out)
}

/// "0 imported, 1 filtered, 1 exported, 0 preferred" (1.6 may add "filtered").
fn parse_route_counts(s: &str) -> Option<RouteCounts> {
    let mut rc = RouteCounts::default();
    let mut any = false;
    for part in s.split(',') {
        let mut w = part.split_whitespace();
        let (Some(n), Some(what)) = (w.next(), w.next()) else {
            continue;
        };
        let Ok(n) = n.parse::<u64>() else { continue };
        let slot = match what {
            "imported" => &mut rc.imported,
            "exported" => &mut rc.exported,
            "preferred" => &mut rc.preferred,
            _ => continue,
        };
        *slot = n;
        any = true;
    }
    any.then_some(rc)
}

fn indent_of(s: &str) -> usize {
    s.len() - s.trim_start().len()
}

/// `show protocols all "name"`: the first protocol of the reply.
pub fn parse_protocol_detail(r: &Reply) -> Result<ProtocolDetail, BirdError> {
    daemon_check(r)?;
    let mut lines = r.lines.iter().skip_while(|l| l.code != 1002);
    let head = lines
        .next()
        .ok_or_else(|| BirdError::Parse("no protocol (1002) in reply".into()))?;
    let mut d = ProtocolDetail {
        protocol: parse_protocol_row(&head.text)?,
        description: None,
        message: None,
        bgp_state: None,
        neighbor_address: None,
        neighbor_as: None,
        local_as: None,
        last_error: None,
        channels: Vec::new(),
        routes: None,
    };
    let mut own_routes = None;
    // Indentation of the current `Channel` line; deeper lines belong to it.
    let mut channel_indent: Option<usize> = None;
    for l in lines.take_while(|l| l.code == 1006) {
        let text = l.text.as_str();
        let t = text.trim();
        if t.is_empty() {
            continue;
        }
        let indent = indent_of(text);
        if let Some(name) = t.strip_prefix("Channel ") {
            d.channels.push(Channel {
                name: name.trim().to_string(),
                state: None,
                table: None,
                routes: None,
            });
            channel_indent = Some(indent);
            continue;
        }
        let Some((key, value)) = t.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match (channel_indent, d.channels.last_mut()) {
            (Some(ci), Some(ch)) if indent > ci => {
                match key {
                    "State" => ch.state = Some(value.to_string()),
                    "Table" => ch.table = Some(value.to_string()),
                    "Routes" => ch.routes = parse_route_counts(value),
                    _ => {}
                }
                continue;
            }
            _ => channel_indent = None,
        }
        let v = Some(value.to_string());
        match key {
            "Description" => d.description = v,
            "Message" => d.message = v,
            "BGP state" => d.bgp_state = v,
            "Neighbor address" => d.neighbor_address = v,
            "Neighbor AS" => d.neighbor_as = value.parse().ok(),
            "Local AS" => d.local_as = value.parse().ok(),
            "Last error" => d.last_error = v,
            "Routes" => own_routes = parse_route_counts(value),
            _ => {}
        }
    }
    d.routes = own_routes.or_else(|| d.channels.first().and_then(|c| c.routes));
    Ok(d)
}
