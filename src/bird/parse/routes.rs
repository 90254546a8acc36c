//! `show route ...`, with or without `all`: each best or alternate route of a prefix,
//! its next hop, protocol, preference, AS path and origin, and with `all` its
//! attributes. Answers "which routes does BIRD have for this prefix, and which is best?"

use serde::Serialize;

use super::{daemon_check, unexpected};
use crate::bird::{BirdError, Reply};

/// One route of `show route` output (best or alternate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    pub prefix: String,
    /// `unicast`, `blackhole`, `unreachable`, ...; `via`/`dev` in 1.6.
    pub kind: String,
    /// First gateway: from the 1.6 route line or the 2.x `\tvia` line.
    pub via: Option<String>,
    pub protocol: String,
    pub since: String,
    pub from: Option<String>,
    /// Marked `*`.
    pub best: bool,
    /// BIRD preference `(100)`, not LOCAL_PREF.
    pub preference: Option<u32>,
    pub as_path: Vec<u32>,
    /// `i`, `e` or `?`.
    pub origin: Option<char>,
    /// With `all`: ("Type", "BGP univ"), ("BGP.as_path", "65001"), ...
    pub attributes: Vec<(String, String)>,
}

fn is_count_line(t: &str) -> bool {
    // "1 of 1 routes for 1 networks in table master4"
    let mut w = t.split_whitespace();
    matches!((w.next(), w.next()), (Some(n), Some("of")) if n.chars().all(|c| c.is_ascii_digit()))
}

/// Fields after the prefix: `KIND [via GW on IF] [PROTO SINCE [from X]] [*] (PREF[/M]) [ASNo]`.
fn parse_route_body(prefix: String, body: &str) -> Result<Route, BirdError> {
    let bad = || {
        BirdError::Parse(format!(
            "route line without [proto time]: {:?}",
            body.trim()
        ))
    };
    let open = body.find('[').ok_or_else(bad)?;
    let close = body[open..].find(']').map(|i| open + i).ok_or_else(bad)?;
    let mut kind_words = body[..open].split_whitespace();
    let kind = kind_words.next().unwrap_or("").to_string();
    let via = if kind == "via" {
        kind_words.next().map(str::to_string)
    } else {
        None
    };
    let bracket: Vec<&str> = body[open + 1..close].split_whitespace().collect();
    let protocol = bracket.first().ok_or_else(bad)?.to_string();
    let from_at = bracket.iter().position(|w| *w == "from");
    let since_end = from_at.unwrap_or(bracket.len());
    let since = bracket.get(1..since_end).unwrap_or(&[]).join(" ");
    let from = from_at
        .and_then(|i| bracket.get(i + 1))
        .map(|s| s.to_string());
    let mut route = Route {
        prefix,
        kind,
        via,
        protocol,
        since,
        from,
        best: false,
        preference: None,
        as_path: Vec::new(),
        origin: None,
        attributes: Vec::new(),
    };
    for w in body[close + 1..].split_whitespace() {
        if w == "*" {
            route.best = true;
        } else if let Some(p) = w.strip_prefix('(').and_then(|p| p.strip_suffix(')')) {
            // "(100)" or "(100/?)" / "(100/20)": preference / IGP metric.
            route.preference = p.split('/').next().and_then(|n| n.parse().ok());
        } else if let Some(s) = w.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            // "[AS65001i]" = origin AS + origin code, or "[i]" for an empty path.
            let s = s.strip_prefix("AS").unwrap_or(s);
            let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            if let Ok(asn) = s[..digits].parse() {
                route.as_path = vec![asn];
            }
            route.origin = s[digits..].chars().next();
        }
    }
    Ok(route)
}

fn parse_as_path(v: &str) -> Vec<u32> {
    // AS_SETs print as "{ 1 2 }": keep the numbers, drop the braces.
    v.split(|c: char| c.is_whitespace() || c == '{' || c == '}')
        .filter_map(|w| w.parse().ok())
        .collect()
}

fn origin_from_attr(v: &str) -> Option<char> {
    match v.trim() {
        "IGP" => Some('i'),
        "EGP" => Some('e'),
        "Incomplete" => Some('?'),
        _ => None,
    }
}

/// Longest network BIRD writes: `NET_MAX_TEXT_LENGTH` in BIRD 2's `lib/net.h`. Every
/// alternate route copies its prefix, so an unbounded one would let a reply of a few
/// MiB (many one-word alternates under one 64 KiB "prefix") cost gigabytes.
const MAX_PREFIX_TEXT: usize = 256;

/// `show route ...` (with or without `all`): best routes and alternates.
pub fn parse_routes(r: &Reply) -> Result<Vec<Route>, BirdError> {
    daemon_check(r)?;
    let mut out: Vec<Route> = Vec::new();
    let mut prefix: Option<String> = None;
    for l in &r.lines {
        let text = l.text.as_str();
        match l.code {
            1007 => {
                let t = text.trim();
                if t.is_empty() || is_count_line(t) {
                    continue;
                }
                if text.starts_with('\t') {
                    // 2.x next hop ("\tvia 10.0.0.1 on eth0", "\tdev eth0"); 1.6 multipath.
                    let mut w = t.split_whitespace();
                    if let (Some("via"), Some(gw), Some(route)) =
                        (w.next(), w.next(), out.last_mut())
                    {
                        route.via.get_or_insert_with(|| gw.to_string());
                    }
                    continue;
                }
                if t.starts_with("Table ") && t.ends_with(':') {
                    prefix = None;
                    continue;
                }
                let (pfx, body) = if text.starts_with(char::is_whitespace) {
                    // Alternate route: blank prefix column.
                    let p = prefix.clone().ok_or_else(|| {
                        BirdError::Parse(format!("alternate route with no prefix: {t:?}"))
                    })?;
                    (p, t)
                } else {
                    let (p, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
                    if p.len() > MAX_PREFIX_TEXT {
                        return Err(BirdError::Parse(format!(
                            "route prefix of {} bytes (BIRD writes at most {MAX_PREFIX_TEXT})",
                            p.len()
                        )));
                    }
                    (p.to_string(), rest)
                };
                prefix = Some(pfx.clone());
                out.push(parse_route_body(pfx, body)?);
            }
            1008 | 1012 => {
                let Some(route) = out.last_mut() else {
                    continue;
                };
                let t = text.trim();
                if t.is_empty() {
                    continue;
                }
                let kv = if text.starts_with("\t\t") {
                    None
                } else if let Some((k, v)) = t.split_once(": ") {
                    Some((k, v))
                } else {
                    t.strip_suffix(':').map(|k| (k, ""))
                };
                match (kv, route.attributes.last_mut()) {
                    (Some((k, v)), _) => route
                        .attributes
                        .push((k.trim().to_string(), v.trim().to_string())),
                    // Wrapped long attribute (community lists): extend the previous one.
                    (None, Some((_, prev))) => {
                        prev.push(' ');
                        prev.push_str(t);
                    }
                    (None, None) => {}
                }
            }
            c if c < 1000 => {}
            c => return Err(unexpected(c, text)),
        }
    }
    for route in &mut out {
        for (k, v) in &route.attributes {
            match k.as_str() {
                // The attribute has the whole path; the [ASxi] summary only the origin AS.
                "BGP.as_path" | "bgp_path" => route.as_path = parse_as_path(v),
                "BGP.origin" | "bgp_origin" if route.origin.is_none() => {
                    route.origin = origin_from_attr(v)
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bird::framing::parse_reply;

    /// Alternates copy their prefix: a prefix longer than BIRD ever writes is refused,
    /// or 16 MiB of one-word alternates under a 64 KiB one would take ~90 GB.
    #[test]
    fn routes_prefix_length_is_bounded() {
        let reply = |prefix: &str| {
            let mut t = format!("1007-{prefix}     unicast [static1 17:03:41.079] * (200)\n");
            for _ in 0..1000 {
                t.push_str("1007-  [a]\n");
            }
            t.push_str("0000 \n");
            parse_reply(&t).expect("frame")
        };
        let longest = format!("{}/32", "1".repeat(MAX_PREFIX_TEXT - 3));
        let routes = parse_routes(&reply(&longest)).expect("routes");
        assert_eq!(routes.len(), 1001);
        assert!(routes.iter().all(|r| r.prefix == longest));
        let too_long = "1".repeat(crate::bird::framing::MAX_LINE - 100);
        match parse_routes(&reply(&too_long)) {
            Err(BirdError::Parse(m)) => assert!(m.contains("at most 256"), "{m}"),
            other => panic!(
                "expected a parse error, got {} routes",
                other.map_or(0, |r| r.len())
            ),
        }
    }
}
