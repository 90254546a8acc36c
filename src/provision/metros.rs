//! From an installer's outputs to the console's metros: what changed ([`diff`]) and the
//! config text with that change made ([`apply_to_config`]), comments and layout kept
//! (`toml_edit`). Pure functions on text: writing the file and reloading the console
//! belong to their callers.
//!
//! A new `[[metro]]` table follows the config's own style: it is derived from the first
//! existing metro table (its socket path, observer protocol name, address port, Nomad
//! address and withdraw commands with that metro's name and address replaced), or, in a
//! config with no metro, from the lab's layout (`run/NAME.ctl`, `anycast`, `upstream`,
//! `metro_NAME`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table};

use crate::domain::text::visible;

/// A metro as the config has it: its name and its own address, when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigMetro {
    pub name: String,
    pub address: Option<SocketAddr>,
}

/// What an apply changed, against the config.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetroDiff {
    /// New metros and their addresses.
    pub added: BTreeMap<String, IpAddr>,
    /// Metros the installer no longer has.
    pub removed: BTreeSet<String>,
    /// Metros whose address moved: (config's, installer's).
    pub changed: BTreeMap<String, (IpAddr, IpAddr)>,
    /// The anycast address, when it differs from the config's prefix: (config's, new).
    pub anycast: Option<(Option<IpAddr>, IpAddr)>,
}

impl MetroDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.anycast.is_none()
    }

    /// One line per change, for an operator: `+ fr 127.1.2.14`, `- sv`,
    /// `~ am 192.0.2.1 -> 192.0.2.9`, `~ anycast 198.18.0.10 -> 198.18.0.11`.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .added
            .iter()
            .map(|(m, a)| format!("+ {m} {a}"))
            .collect();
        out.extend(self.removed.iter().map(|m| format!("- {m}")));
        out.extend(
            self.changed
                .iter()
                .map(|(m, (from, to))| format!("~ {m} {from} -> {to}")),
        );
        if let Some((from, to)) = &self.anycast {
            let from = from.map(|f| f.to_string()).unwrap_or_else(|| "none".into());
            out.push(format!("~ anycast {from} -> {to}"));
        }
        out
    }
}

/// Compares the config's metros with the installer's map (metro -> address) and anycast
/// address. A config metro without an address takes none from the installer (not a change).
pub fn diff(
    current: &[ConfigMetro],
    current_anycast: Option<IpAddr>,
    from_outputs: &BTreeMap<String, IpAddr>,
    anycast: Option<IpAddr>,
) -> MetroDiff {
    let have: BTreeMap<&str, Option<IpAddr>> = current
        .iter()
        .map(|m| (m.name.as_str(), m.address.map(|a| a.ip())))
        .collect();
    let mut d = MetroDiff::default();
    for (name, ip) in from_outputs {
        match have.get(name.as_str()) {
            None => {
                d.added.insert(name.clone(), *ip);
            }
            Some(Some(old)) if old != ip => {
                d.changed.insert(name.clone(), (*old, *ip));
            }
            Some(_) => {}
        }
    }
    d.removed = have
        .keys()
        .filter(|n| !from_outputs.contains_key(**n))
        .map(|n| n.to_string())
        .collect();
    if let Some(new) = anycast {
        if current_anycast != Some(new) {
            d.anycast = Some((current_anycast, new));
        }
    }
    d
}

fn parse(text: &str) -> Result<DocumentMut, String> {
    text.parse::<DocumentMut>()
        .map_err(|e| format!("the config is not valid TOML: {}", visible(&e.to_string())))
}

/// The `[[metro]]` tables of a config text: names and addresses. Errors when the text is
/// not TOML or a metro has no name.
pub fn metros_in_config(text: &str) -> Result<Vec<ConfigMetro>, String> {
    let doc = parse(text)?;
    let Some(item) = doc.get("metro") else {
        return Ok(Vec::new());
    };
    let tables = item
        .as_array_of_tables()
        .ok_or("`metro` in the config is not a list of [[metro]] tables")?;
    tables
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let name = t
                .get("name")
                .and_then(Item::as_str)
                .ok_or_else(|| format!("metro[{i}] has no name"))?;
            let address = t
                .get("address")
                .and_then(Item::as_str)
                .and_then(|a| a.parse().ok());
            Ok(ConfigMetro {
                name: name.to_string(),
                address,
            })
        })
        .collect()
}

/// The address part of the config's `[anycast] prefix` (`198.18.0.10/32` -> 198.18.0.10).
pub fn anycast_in_config(text: &str) -> Result<Option<IpAddr>, String> {
    let doc = parse(text)?;
    Ok(doc
        .get("anycast")
        .and_then(|a| a.get("prefix"))
        .and_then(Item::as_str)
        .and_then(|p| p.split('/').next())
        .and_then(|a| a.parse().ok()))
}

/// The config text with `diff` made: removed metros' tables (with the comments above
/// them) gone, moved addresses rewritten (keeping ports), new `[[metro]]` tables appended
/// in the config's style, and the anycast prefix's address replaced (keeping its length).
/// `display_name(code)` names a new metro (e.g. `Frankfurt` for `fr`). Everything else,
/// comments and layout included, is kept byte for byte.
pub fn apply_to_config(
    text: &str,
    diff: &MetroDiff,
    display_name: &dyn Fn(&str) -> String,
) -> Result<String, String> {
    let mut doc = parse(text)?;
    let template = match doc.get("metro") {
        None => None,
        Some(item) => {
            let tables = item
                .as_array_of_tables()
                .ok_or("`metro` in the config is not a list of [[metro]] tables")?;
            tables.get(0).cloned()
        }
    };
    for name in diff.added.keys() {
        crate::domain::check_metro_name(name)?;
    }
    let mut next = max_position(doc.as_table()) + 1;
    if !doc.contains_key("metro") {
        doc.insert("metro", Item::ArrayOfTables(ArrayOfTables::new()));
    }
    let tables = doc
        .get_mut("metro")
        .and_then(Item::as_array_of_tables_mut)
        .ok_or("`metro` in the config is not a list of [[metro]] tables")?;
    tables.retain(|t| {
        t.get("name")
            .and_then(Item::as_str)
            .is_none_or(|n| !diff.removed.contains(n))
    });
    for t in tables.iter_mut() {
        let Some(name) = t.get("name").and_then(Item::as_str).map(str::to_string) else {
            continue;
        };
        if let Some((from, to)) = diff.changed.get(&name) {
            move_address(t, *from, *to);
        }
    }
    for (name, ip) in &diff.added {
        let mut table = match &template {
            Some(t) => derive(t, name, &display_name(name), *ip)?,
            None => lab_style(name, &display_name(name), *ip),
        };
        // After everything the document has, in order, with its sub-tables after it.
        renumber(&mut table, &mut next);
        tables.push(table);
    }
    if let Some((_, new)) = diff.anycast {
        let prefix = doc
            .get_mut("anycast")
            .and_then(|a| a.get_mut("prefix"))
            .ok_or("the config has no [anycast] prefix to update")?;
        let len = prefix
            .as_str()
            .and_then(|p| p.split_once('/'))
            .map(|(_, l)| l.to_string())
            .unwrap_or_else(|| if new.is_ipv4() { "32" } else { "128" }.into());
        let decor = prefix.as_value().map(|v| v.decor().clone());
        *prefix = value(format!("{new}/{len}"));
        if let (Some(d), Some(v)) = (decor, prefix.as_value_mut()) {
            *v.decor_mut() = d;
        }
    }
    Ok(doc.to_string())
}

/// The largest document position of any table in `t` (0 when none has one).
fn max_position(t: &Table) -> usize {
    let mut max = t.position().unwrap_or(0);
    for (_, item) in t.iter() {
        match item {
            Item::Table(sub) => max = max.max(max_position(sub)),
            Item::ArrayOfTables(a) => {
                for sub in a.iter() {
                    max = max.max(max_position(sub));
                }
            }
            _ => {}
        }
    }
    max
}

/// Gives `t` and then each of its sub-tables the next positions.
fn renumber(t: &mut Table, next: &mut usize) {
    t.set_position(*next);
    *next += 1;
    for (_, item) in t.iter_mut() {
        match item {
            Item::Table(sub) => renumber(sub, next),
            Item::ArrayOfTables(a) => {
                for sub in a.iter_mut() {
                    renumber(sub, next);
                }
            }
            _ => {}
        }
    }
}

/// Sets a string value, keeping the decor (spacing, trailing comment) of the old one.
fn set_str(t: &mut Table, key: &str, new: &str) {
    let decor = t
        .get(key)
        .and_then(Item::as_value)
        .map(|v| v.decor().clone());
    t.insert(key, value(new));
    if let (Some(d), Some(v)) = (decor, t.get_mut(key).and_then(Item::as_value_mut)) {
        *v.decor_mut() = d;
    }
}

fn move_address(t: &mut Table, from: IpAddr, to: IpAddr) {
    if let Some(a) = t
        .get("address")
        .and_then(Item::as_str)
        .and_then(|a| a.parse::<SocketAddr>().ok())
    {
        set_str(t, "address", &SocketAddr::new(to, a.port()).to_string());
    }
    if let Some(nomad) = t.get_mut("nomad").and_then(Item::as_table_mut) {
        if let Some(addr) = nomad.get("address").and_then(Item::as_str) {
            if let Some(new) = replace_host(addr, &from.to_string(), &to.to_string()) {
                set_str(nomad, "address", &new);
            }
        }
    }
}

/// `http://HOST:PORT/...` with HOST replaced when it is `old`; `None` when it is not.
fn replace_host(url: &str, old: &str, new: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find([':', '/']).unwrap_or(rest.len());
    (rest[..end] == *old).then(|| format!("{scheme}://{new}{}", &rest[end..]))
}

/// Replaces the tokens of `s` (split at `_ - . : /`) equal to `old`; `None` when none is.
fn replace_token(s: &str, old: &str, new: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut found = false;
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String, found: &mut bool| {
        if token == old {
            out.push_str(new);
            *found = true;
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    for c in s.chars() {
        if matches!(c, '_' | '-' | '.' | ':' | '/') {
            flush(&mut token, &mut out, &mut found);
            out.push(c);
        } else {
            token.push(c);
        }
    }
    flush(&mut token, &mut out, &mut found);
    found.then_some(out)
}

/// A new metro table from an existing one: the existing metro's name and address replaced
/// wherever the config spells them. Errors when the socket or the observer protocol
/// cannot be derived (they do not contain the existing metro's name).
fn derive(template: &Table, name: &str, display_name: &str, ip: IpAddr) -> Result<Table, String> {
    let old = template
        .get("name")
        .and_then(Item::as_str)
        .ok_or("the first [[metro]] has no name")?
        .to_string();
    let old_ip = template
        .get("address")
        .and_then(Item::as_str)
        .and_then(|a| a.parse::<SocketAddr>().ok());
    let mut t = template.clone();
    set_str(&mut t, "name", name);
    set_str(&mut t, "display_name", display_name);
    for key in ["bird_socket", "observer_protocol"] {
        if let Some(v) = t.get(key).and_then(Item::as_str) {
            let new = replace_token(v, &old, name).ok_or_else(|| {
                format!(
                    "cannot write a [[metro]] table for `{name}`: the config's `{key}` \
                     (`{}`) does not name its metro `{old}`; add the metro by hand",
                    visible(v)
                )
            })?;
            set_str(&mut t, key, &new);
        }
    }
    match old_ip {
        Some(a) => set_str(
            &mut t,
            "address",
            &SocketAddr::new(ip, a.port()).to_string(),
        ),
        None => {
            t.remove("address");
        }
    }
    let old_ip = old_ip.map(|a| a.ip().to_string());
    let mut drop_nomad = false;
    if let Some(nomad) = t.get_mut("nomad").and_then(Item::as_table_mut) {
        if let Some(addr) = nomad.get("address").and_then(Item::as_str) {
            let new = old_ip
                .as_deref()
                .and_then(|o| replace_host(addr, o, &ip.to_string()))
                .or_else(|| replace_token(addr, &old, name));
            match new {
                Some(n) => set_str(nomad, "address", &n),
                // Another metro's Nomad is worse than none: leave it to the operator.
                None => drop_nomad = true,
            }
        }
    }
    if drop_nomad {
        t.remove("nomad");
    }
    let mut drop_withdraw = false;
    if let Some(w) = t.get_mut("withdraw").and_then(Item::as_table_mut) {
        for key in ["withdraw", "restore"] {
            if let Some(cmd) = w.get(key).and_then(Item::as_str) {
                let from = format!("/{old}.");
                if cmd.contains(&from) {
                    let new = cmd.replace(&from, &format!("/{name}."));
                    set_str(w, key, &new);
                } else {
                    drop_withdraw = true;
                }
            }
        }
    }
    if drop_withdraw {
        // Commands written for another metro must not run for this one.
        t.remove("withdraw");
    }
    t.decor_mut().set_prefix("\n");
    Ok(t)
}

/// The lab's `[[metro]]` layout (`lab::conf::console_toml`), for a config with no metro.
fn lab_style(name: &str, display_name: &str, ip: IpAddr) -> Table {
    let mut t = Table::new();
    t.insert("name", value(name));
    t.insert("display_name", value(display_name));
    t.insert("bird_socket", value(format!("run/{name}.ctl")));
    let mut origins = Array::new();
    origins.push("anycast");
    t.insert("origin_protocols", value(origins));
    t.insert("export_protocol", value("upstream"));
    t.insert("observer_protocol", value(format!("metro_{name}")));
    t.insert("address", value(SocketAddr::new(ip, 80).to_string()));
    t.decor_mut().set_prefix("\n");
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = r#"# Written by `platform-tui lab up`: an ordinary platform-tui config for this lab.
# Paths are relative to this file.

[console]
state_dir = "state"

[anycast]
prefix = "198.18.0.10/32" # the lab's prefix
url = "http://127.150.7.2:30001/"

[anycast.observer]
bird_socket = "run/upstream.ctl"

# Amsterdam: nearest to the viewer
[[metro]]
name = "am"
display_name = "Amsterdam"
bird_socket = "run/am.ctl"
origin_protocols = ["anycast"]
export_protocol = "upstream"
observer_protocol = "metro_am"
address = "127.150.7.10:30001"

[metro.nomad]
address = "http://127.150.7.10:30002"

# Dallas
[[metro]]
name = "da"
display_name = "Dallas"
bird_socket = "run/da.ctl"
origin_protocols = ["anycast"]
export_protocol = "upstream"
observer_protocol = "metro_da"
address = "127.150.7.11:30001"

[metro.nomad]
address = "http://127.150.7.11:30002"

# end of metros
"#;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn outputs(pairs: &[(&str, &str)]) -> BTreeMap<String, IpAddr> {
        pairs.iter().map(|(m, a)| (m.to_string(), ip(a))).collect()
    }

    #[test]
    fn reads_the_metros_and_the_anycast_address() {
        let m = metros_in_config(LAB).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].name, "am");
        assert_eq!(m[1].address.unwrap().to_string(), "127.150.7.11:30001");
        assert_eq!(anycast_in_config(LAB).unwrap(), Some(ip("198.18.0.10")));
        assert!(metros_in_config("[[metro]]\naddress = \"x\"\n")
            .unwrap_err()
            .contains("no name"));
        assert!(metros_in_config("= broken").is_err());
    }

    #[test]
    fn diff_finds_added_removed_changed_and_anycast() {
        let current = metros_in_config(LAB).unwrap();
        let d = diff(
            &current,
            Some(ip("198.18.0.10")),
            &outputs(&[("am", "127.150.7.10"), ("fr", "127.150.7.14")]),
            Some(ip("198.18.0.10")),
        );
        assert_eq!(d.added, outputs(&[("fr", "127.150.7.14")]));
        assert_eq!(d.removed, BTreeSet::from(["da".to_string()]));
        assert!(d.changed.is_empty() && d.anycast.is_none());
        assert_eq!(d.lines(), ["+ fr 127.150.7.14", "- da"]);
        let same = diff(
            &current,
            Some(ip("198.18.0.10")),
            &outputs(&[("am", "127.150.7.10"), ("da", "127.150.7.11")]),
            None,
        );
        assert!(same.is_empty(), "{same:?}");
        let moved = diff(
            &current,
            Some(ip("198.18.0.10")),
            &outputs(&[("am", "127.150.7.99"), ("da", "127.150.7.11")]),
            Some(ip("198.18.0.11")),
        );
        assert_eq!(
            moved.lines(),
            [
                "~ am 127.150.7.10 -> 127.150.7.99",
                "~ anycast 198.18.0.10 -> 198.18.0.11"
            ]
        );
    }

    #[test]
    fn adding_a_metro_follows_the_lab_style_and_keeps_everything_else() {
        let d = MetroDiff {
            added: outputs(&[("fr", "127.150.7.14")]),
            ..Default::default()
        };
        let new = apply_to_config(LAB, &d, &|c| format!("Metro {c}")).unwrap();
        let added = r#"
[[metro]]
name = "fr"
display_name = "Metro fr"
bird_socket = "run/fr.ctl"
origin_protocols = ["anycast"]
export_protocol = "upstream"
observer_protocol = "metro_fr"
address = "127.150.7.14:30001"

[metro.nomad]
address = "http://127.150.7.14:30002"

# end of metros
"#;
        assert_eq!(new, LAB.replace("\n# end of metros\n", added));
        // The new text reads back with the new metro.
        let names: Vec<String> = metros_in_config(&new)
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["am", "da", "fr"]);
    }

    #[test]
    fn removing_a_metro_takes_its_comment_and_subtables() {
        let d = MetroDiff {
            removed: BTreeSet::from(["am".to_string()]),
            ..Default::default()
        };
        let new = apply_to_config(LAB, &d, &|c| c.to_string()).unwrap();
        assert!(
            !new.contains("Amsterdam") && !new.contains("127.150.7.10"),
            "{new}"
        );
        assert!(new.contains("# Dallas\n[[metro]]\nname = \"da\""), "{new}");
        assert!(new.contains("prefix = \"198.18.0.10/32\" # the lab's prefix"));
        assert!(new.ends_with("# end of metros\n"));
    }

    #[test]
    fn moving_addresses_and_the_anycast_prefix_keeps_ports_and_comments() {
        let d = MetroDiff {
            changed: BTreeMap::from([("da".to_string(), (ip("127.150.7.11"), ip("127.150.7.20")))]),
            anycast: Some((Some(ip("198.18.0.10")), ip("198.18.0.11"))),
            ..Default::default()
        };
        let new = apply_to_config(LAB, &d, &|c| c.to_string()).unwrap();
        assert!(new.contains("address = \"127.150.7.20:30001\""), "{new}");
        assert!(
            new.contains("address = \"http://127.150.7.20:30002\""),
            "{new}"
        );
        assert!(
            new.contains("prefix = \"198.18.0.11/32\" # the lab's prefix"),
            "{new}"
        );
        assert_eq!(new.lines().count(), LAB.lines().count());
    }

    #[test]
    fn a_config_without_metros_gets_the_lab_layout() {
        let text = "[anycast]\nprefix = \"198.18.0.10/32\"\n";
        let d = MetroDiff {
            added: outputs(&[("am", "192.0.2.1")]),
            ..Default::default()
        };
        let new = apply_to_config(text, &d, &|_| "Amsterdam".into()).unwrap();
        assert!(new.contains("bird_socket = \"run/am.ctl\""), "{new}");
        assert!(new.contains("observer_protocol = \"metro_am\""), "{new}");
        assert_eq!(metros_in_config(&new).unwrap()[0].name, "am");
    }

    #[test]
    fn command_withdraw_follows_the_metro_or_is_left_out() {
        let text = r#"[[metro]]
name = "am"
display_name = "Amsterdam"
bird_socket = "/lab dir/run/am.ctl"
origin_protocols = ["anycast"]
observer_protocol = "metro_am"

[metro.withdraw]
method = "command"
withdraw = "kill -TERM \"$(cat '/lab dir/run/am.pid')\""
restore = "'/usr/sbin/bird' -c '/lab dir/am.conf' -s '/lab dir/run/am.ctl' -P '/lab dir/run/am.pid'"
"#;
        let d = MetroDiff {
            added: outputs(&[("fr", "192.0.2.1")]),
            ..Default::default()
        };
        let new = apply_to_config(text, &d, &|_| "Frankfurt".into()).unwrap();
        assert!(new.contains("cat '/lab dir/run/fr.pid'"), "{new}");
        assert!(
            new.contains("-c '/lab dir/fr.conf' -s '/lab dir/run/fr.ctl'"),
            "{new}"
        );
        assert!(
            new.contains("bird_socket = \"/lab dir/run/fr.ctl\""),
            "{new}"
        );
        let other = text
            .replace("/run/am.pid", "/run/region1.pid")
            .replace("/am.conf", "/x.conf");
        let new = apply_to_config(&other, &d, &|_| "Frankfurt".into()).unwrap();
        let fr = &new[new.find("name = \"fr\"").unwrap()..];
        assert!(!fr.contains("[metro.withdraw]"), "{new}");
    }

    #[test]
    fn an_underivable_socket_is_an_error_not_a_guess() {
        let text = "[[metro]]\nname = \"am\"\nbird_socket = \"/run/bird.ctl\"\nobserver_protocol = \"x\"\n";
        let d = MetroDiff {
            added: outputs(&[("fr", "192.0.2.1")]),
            ..Default::default()
        };
        let e = apply_to_config(text, &d, &|_| "Frankfurt".into()).unwrap_err();
        assert!(e.contains("bird_socket") && e.contains("by hand"), "{e}");
        let bad = MetroDiff {
            added: outputs(&[("FR\u{1b}", "192.0.2.1")]),
            ..Default::default()
        };
        assert!(apply_to_config(LAB, &bad, &|_| "x".into())
            .unwrap_err()
            .contains("invalid metro name"));
    }
}
