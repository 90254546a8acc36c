//! Key bindings as data: the [`Action`]s an operator can trigger, the default keys for
//! each, parsing of key specs such as `"ctrl-r"`, and overrides from `[console.keys]`.
//!
//! This file owns the binding table that both the event loop (`action_for`) and the
//! generated help overlay (`bindings`) read, so the two can never disagree. It does no
//! I/O and draws nothing; positions and file names in errors are the config loader's job.

use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Something the operator can ask the console to do with one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    SelectUp,
    SelectDown,
    Withdraw,
    Restore,
    Refresh,
    Help,
    Quit,
    ViewOverview,
    ViewLatency,
    ViewNomad,
    NextView,
    Freeze,
    ZoomIn,
    ZoomOut,
    ToggleAllMetros,
    NextMetro,
    Filter,
    Sort,
    Open,
    Logs,
    LogStream,
    Back,
    ScrollBack,
    ScrollForward,
    Follow,
}

impl Action {
    /// Every action, in the order the help overlay lists them.
    pub const ALL: [Action; 25] = [
        Action::SelectUp,
        Action::SelectDown,
        Action::Withdraw,
        Action::Restore,
        Action::Refresh,
        Action::Help,
        Action::Quit,
        Action::ViewOverview,
        Action::ViewLatency,
        Action::ViewNomad,
        Action::NextView,
        Action::Freeze,
        Action::ZoomIn,
        Action::ZoomOut,
        Action::ToggleAllMetros,
        Action::NextMetro,
        Action::Filter,
        Action::Sort,
        Action::Open,
        Action::Logs,
        Action::LogStream,
        Action::Back,
        Action::ScrollBack,
        Action::ScrollForward,
        Action::Follow,
    ];

    /// The action's key in `[console.keys]`.
    pub fn name(self) -> &'static str {
        match self {
            Action::SelectUp => "select_up",
            Action::SelectDown => "select_down",
            Action::Withdraw => "withdraw",
            Action::Restore => "restore",
            Action::Refresh => "refresh",
            Action::Help => "help",
            Action::Quit => "quit",
            Action::ViewOverview => "view_overview",
            Action::ViewLatency => "view_latency",
            Action::ViewNomad => "view_nomad",
            Action::NextView => "next_view",
            Action::Freeze => "freeze",
            Action::ZoomIn => "zoom_in",
            Action::ZoomOut => "zoom_out",
            Action::ToggleAllMetros => "toggle_all_metros",
            Action::NextMetro => "next_metro",
            Action::Filter => "filter",
            Action::Sort => "sort",
            Action::Open => "open",
            Action::Logs => "logs",
            Action::LogStream => "log_stream",
            Action::Back => "back",
            Action::ScrollBack => "scroll_back",
            Action::ScrollForward => "scroll_forward",
            Action::Follow => "follow",
        }
    }

    /// One line for the help overlay.
    pub fn description(self) -> &'static str {
        match self {
            Action::SelectUp => "select the previous metro (or row; logs: a line back)",
            Action::SelectDown => "select the next metro (or row; logs: a line on)",
            Action::Withdraw => "withdraw the selected metro's anycast advertisement",
            Action::Restore => "restore the selected metro's anycast advertisement",
            Action::Refresh => "poll every metro now",
            Action::Help => "show or hide this help",
            Action::Quit => "quit the console",
            Action::ViewOverview => "show the overview",
            Action::ViewLatency => "show the latency pane",
            Action::ViewNomad => "show the Nomad pane",
            Action::NextView => "cycle views",
            Action::Freeze => "freeze or unfreeze the latency chart",
            Action::ZoomIn => "shorten the chart's time window",
            Action::ZoomOut => "lengthen the chart's time window",
            Action::ToggleAllMetros => "chart every metro, not only anycast",
            Action::NextMetro => "Nomad pane: next metro (or all)",
            Action::Filter => "Nomad pane: filter jobs and allocations",
            Action::Sort => "Nomad pane: sort by the next column",
            Action::Open => "Nomad pane: open the selected allocation",
            Action::Logs => "Nomad pane: follow the allocation's logs",
            Action::LogStream => "logs: switch stdout/stderr",
            Action::Back => "close the logs (back to the detail) or the detail",
            Action::ScrollBack => "logs: scroll back a page (list: a page up)",
            Action::ScrollForward => "logs: scroll forward a page (list: a page down)",
            Action::Follow => "logs: follow new lines again (list: the last row)",
        }
    }

    /// The action whose [`name`](Action::name) is `name`.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One key with its modifiers, as written in the config (`"k"`, `"up"`, `"ctrl-c"`).
///
/// SHIFT is never part of a spec for character keys: `"R"` already says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySpec {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

impl KeySpec {
    pub const fn new(code: KeyCode, modifiers: KeyModifiers) -> Self {
        KeySpec { code, modifiers }
    }

    /// Whether a terminal key event is this key. SHIFT is ignored for characters,
    /// because terminals disagree on whether `?` or `R` arrive with the flag set.
    pub fn matches(&self, event: &KeyEvent) -> bool {
        let mut modifiers = event.modifiers;
        if let KeyCode::Char(_) = event.code {
            modifiers.remove(KeyModifiers::SHIFT);
        }
        self.code == event.code && self.modifiers == modifiers
    }
}

/// Named keys, in the spelling the config uses. `space` maps to a character so that it
/// matches what terminals send.
const NAMED_KEYS: [(&str, KeyCode); 15] = [
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("space", KeyCode::Char(' ')),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("pageup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
];

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.modifiers.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        if let Some((name, _)) = NAMED_KEYS.iter().find(|(_, code)| *code == self.code) {
            return f.write_str(name);
        }
        match self.code {
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// Parse a key spec: a single character (`"w"`, `"W"`, `"?"`), a named key (`"up"`,
/// `"enter"`, `"space"`, `"pagedown"`, `"f1"`..`"f12"`, ...), optionally prefixed by
/// `ctrl-` and/or `alt-`.
pub fn parse_key(spec: &str) -> Result<KeySpec, String> {
    if spec.is_empty() {
        return Err("empty key".to_string());
    }
    let mut rest = spec;
    let mut modifiers = KeyModifiers::NONE;
    loop {
        // A lone "-" (or "ctrl--") is the minus key, not a dangling prefix.
        if let Some(r) = strip_prefix_ci(rest, "ctrl-").filter(|r| !r.is_empty()) {
            modifiers |= KeyModifiers::CONTROL;
            rest = r;
        } else if let Some(r) = strip_prefix_ci(rest, "alt-").filter(|r| !r.is_empty()) {
            modifiers |= KeyModifiers::ALT;
            rest = r;
        } else {
            break;
        }
    }
    let mut chars = rest.chars();
    let code = match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_control() => return Err(bad_key(spec)),
        // Terminals report ctrl-letter as the lower-case letter.
        (Some(c), None) if modifiers.contains(KeyModifiers::CONTROL) => {
            KeyCode::Char(c.to_ascii_lowercase())
        }
        (Some(c), None) => KeyCode::Char(c),
        _ => {
            let lower = rest.to_ascii_lowercase();
            if let Some((_, code)) = NAMED_KEYS.iter().find(|(name, _)| *name == lower) {
                *code
            } else if let Some(n) = lower
                .strip_prefix('f')
                .and_then(|n| n.parse::<u8>().ok())
                .filter(|n| (1..=12).contains(n))
            {
                KeyCode::F(n)
            } else {
                return Err(bad_key(spec));
            }
        }
    };
    Ok(KeySpec::new(code, modifiers))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn bad_key(spec: &str) -> String {
    format!(
        "unknown key `{spec}`, expected a single character, a key name (up, down, left, \
         right, enter, esc, tab, backtab, space, backspace, delete, home, end, pageup, \
         pagedown, f1..f12), optionally prefixed by ctrl- or alt-"
    )
}

/// The binding table: for every [`Action`], the keys that trigger it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    /// Indexed like [`Action::ALL`].
    keys: [Vec<KeySpec>; Action::ALL.len()],
}

fn key(code: KeyCode) -> KeySpec {
    KeySpec::new(code, KeyModifiers::NONE)
}

fn ctrl(c: char) -> KeySpec {
    KeySpec::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn index(action: Action) -> usize {
    // ALL lists every variant, so the search cannot fail; fall back to 0 to stay total.
    Action::ALL.iter().position(|a| *a == action).unwrap_or(0)
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap {
            keys: [
                vec![key(KeyCode::Up), key(KeyCode::Char('k'))],
                vec![key(KeyCode::Down), key(KeyCode::Char('j'))],
                vec![key(KeyCode::Char('w'))],
                vec![key(KeyCode::Char('r'))],
                vec![ctrl('r')],
                vec![key(KeyCode::Char('?'))],
                vec![key(KeyCode::Char('q')), ctrl('c')],
                vec![key(KeyCode::Char('1'))],
                vec![key(KeyCode::Char('2'))],
                vec![key(KeyCode::Char('3'))],
                vec![key(KeyCode::Tab)],
                vec![key(KeyCode::Char('f'))],
                vec![key(KeyCode::Char('+'))],
                vec![key(KeyCode::Char('-'))],
                vec![key(KeyCode::Char('a'))],
                vec![key(KeyCode::Char('m'))],
                vec![key(KeyCode::Char('/'))],
                vec![key(KeyCode::Char('s'))],
                vec![key(KeyCode::Enter)],
                vec![key(KeyCode::Char('l'))],
                vec![key(KeyCode::Char('o'))],
                vec![key(KeyCode::Esc)],
                vec![key(KeyCode::PageUp)],
                vec![key(KeyCode::PageDown)],
                vec![key(KeyCode::End), key(KeyCode::Char('G'))],
            ],
        }
    }
}

impl Keymap {
    /// The action bound to a terminal key event, if any. The event's kind (press,
    /// repeat, release) is not looked at; the event loop filters presses.
    pub fn action_for(&self, event: &KeyEvent) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|a| self.keys(*a).iter().any(|k| k.matches(event)))
    }

    /// The keys bound to one action.
    pub fn keys(&self, action: Action) -> &[KeySpec] {
        &self.keys[index(action)]
    }

    /// Every action with its key labels, in [`Action::ALL`] order; the help overlay is
    /// generated from this.
    pub fn bindings(&self) -> Vec<(Action, Vec<String>)> {
        Action::ALL
            .into_iter()
            .map(|a| (a, self.keys(a).iter().map(ToString::to_string).collect()))
            .collect()
    }

    /// Replace one action's keys. An action needs at least one key, and a key may not
    /// be listed twice. Conflicts with other actions are checked by [`Keymap::conflict`].
    pub fn set_keys(&mut self, action: Action, keys: Vec<KeySpec>) -> Result<(), String> {
        if keys.is_empty() {
            return Err(format!("`{action}` needs at least one key"));
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].contains(k) {
                return Err(format!("key `{k}` is listed twice for `{action}`"));
            }
        }
        self.keys[index(action)] = keys;
        Ok(())
    }

    /// The first key bound to two actions, if any, as (key, first action, second action)
    /// in [`Action::ALL`] order.
    pub fn conflict(&self) -> Option<(KeySpec, Action, Action)> {
        for (i, a) in Action::ALL.into_iter().enumerate() {
            for b in Action::ALL.into_iter().skip(i + 1) {
                if let Some(k) = self.keys(a).iter().find(|k| self.keys(b).contains(k)) {
                    return Some((*k, a, b));
                }
            }
        }
        None
    }

    /// Apply `(action, key specs)` overrides: each replaces that action's keys. After
    /// all are applied, a key bound to two actions is an error. On error `self` is left
    /// unchanged.
    pub fn apply_overrides<I, S>(&mut self, overrides: I) -> Result<(), String>
    where
        I: IntoIterator<Item = (Action, Vec<S>)>,
        S: AsRef<str>,
    {
        let mut next = self.clone();
        for (action, specs) in overrides {
            let keys = specs
                .iter()
                .map(|s| parse_key(s.as_ref()))
                .collect::<Result<Vec<_>, _>>()?;
            next.set_keys(action, keys)?;
        }
        if let Some((k, a, b)) = next.conflict() {
            return Err(conflict_message(k, a, b));
        }
        *self = next;
        Ok(())
    }
}

/// The error text for a key bound to two actions.
pub fn conflict_message(key: KeySpec, a: Action, b: Action) -> String {
    format!("key `{key}` is bound to both `{a}` and `{b}`")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventKind;

    fn ev(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn parse_key_characters() {
        assert_eq!(parse_key("w").unwrap(), key(KeyCode::Char('w')));
        assert_eq!(parse_key("W").unwrap(), key(KeyCode::Char('W')));
        assert_eq!(parse_key("?").unwrap(), key(KeyCode::Char('?')));
        assert_eq!(parse_key("-").unwrap(), key(KeyCode::Char('-')));
        assert_eq!(parse_key("é").unwrap(), key(KeyCode::Char('é')));
    }

    #[test]
    fn parse_key_names() {
        for (name, code) in NAMED_KEYS {
            assert_eq!(parse_key(name).unwrap(), key(code), "{name}");
        }
        assert_eq!(parse_key("Up").unwrap(), key(KeyCode::Up));
        assert_eq!(parse_key("f1").unwrap(), key(KeyCode::F(1)));
        assert_eq!(parse_key("f12").unwrap(), key(KeyCode::F(12)));
        assert!(parse_key("f13").is_err());
        assert!(parse_key("f0").is_err());
    }

    #[test]
    fn parse_key_modifiers() {
        assert_eq!(parse_key("ctrl-r").unwrap(), ctrl('r'));
        assert_eq!(parse_key("ctrl-R").unwrap(), ctrl('r'));
        assert_eq!(
            parse_key("alt-x").unwrap(),
            KeySpec::new(KeyCode::Char('x'), KeyModifiers::ALT)
        );
        assert_eq!(
            parse_key("ctrl-alt-up").unwrap(),
            KeySpec::new(KeyCode::Up, KeyModifiers::CONTROL | KeyModifiers::ALT)
        );
        assert_eq!(
            parse_key("ctrl--").unwrap(),
            KeySpec::new(KeyCode::Char('-'), KeyModifiers::CONTROL)
        );
    }

    #[test]
    fn parse_key_rejects() {
        for bad in ["", "ctrl-", "foo", "shift-x", "ctrl-foo", "\t", "up down"] {
            assert!(parse_key(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(parse_key("foo").unwrap_err().contains("unknown key `foo`"));
    }

    #[test]
    fn labels_round_trip() {
        for spec in [
            "w",
            "?",
            "up",
            "space",
            "ctrl-c",
            "alt-x",
            "f5",
            "pagedown",
            "ctrl-alt-q",
        ] {
            let k = parse_key(spec).unwrap();
            assert_eq!(k.to_string(), spec);
            assert_eq!(parse_key(&k.to_string()).unwrap(), k);
        }
    }

    #[test]
    fn defaults() {
        let km = Keymap::default();
        assert_eq!(km.conflict(), None);
        let b = km.bindings();
        assert_eq!(b.len(), 25);
        assert_eq!(b[0], (Action::SelectUp, vec!["up".into(), "k".into()]));
        assert_eq!(b[4], (Action::Refresh, vec!["ctrl-r".into()]));
        assert_eq!(b[6], (Action::Quit, vec!["q".into(), "ctrl-c".into()]));
        let order: Vec<Action> = b.iter().map(|(a, _)| *a).collect();
        assert_eq!(order, Action::ALL.to_vec());
        for a in Action::ALL {
            assert!(!km.keys(a).is_empty(), "{a} has no default key");
        }
    }

    #[test]
    fn view_and_pane_defaults() {
        let km = Keymap::default();
        let labels =
            |a: Action| -> Vec<String> { km.keys(a).iter().map(ToString::to_string).collect() };
        for (action, name, want) in [
            (Action::ViewOverview, "view_overview", "1"),
            (Action::ViewLatency, "view_latency", "2"),
            (Action::ViewNomad, "view_nomad", "3"),
            (Action::NextView, "next_view", "tab"),
            (Action::Freeze, "freeze", "f"),
            (Action::ZoomIn, "zoom_in", "+"),
            (Action::ZoomOut, "zoom_out", "-"),
            (Action::ToggleAllMetros, "toggle_all_metros", "a"),
            (Action::NextMetro, "next_metro", "m"),
            (Action::Filter, "filter", "/"),
            (Action::Sort, "sort", "s"),
            (Action::Open, "open", "enter"),
            (Action::Logs, "logs", "l"),
            (Action::LogStream, "log_stream", "o"),
            (Action::Back, "back", "esc"),
        ] {
            assert_eq!(action.name(), name);
            assert_eq!(labels(action), [want], "{name}");
            let k = parse_key(want).unwrap();
            assert_eq!(km.action_for(&ev(k.code, k.modifiers)), Some(action));
        }
        // The new actions come after the original seven, in the help overlay's order.
        assert_eq!(Action::ALL[7], Action::ViewOverview);
        assert_eq!(Action::ALL[21], Action::Back);
        for (action, name, want) in [
            (Action::ScrollBack, "scroll_back", &["pageup"][..]),
            (Action::ScrollForward, "scroll_forward", &["pagedown"]),
            (Action::Follow, "follow", &["end", "G"]),
        ] {
            assert_eq!(action.name(), name);
            assert_eq!(labels(action), want, "{name}");
            for spec in want {
                let k = parse_key(spec).unwrap();
                assert_eq!(km.action_for(&ev(k.code, k.modifiers)), Some(action));
            }
        }
        // `+` is typed with shift on most layouts; it still matches.
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('+'), KeyModifiers::SHIFT)),
            Some(Action::ZoomIn)
        );
    }

    #[test]
    fn action_for_ignores_shift_on_characters() {
        let km = Keymap::default();
        let q = ev(KeyCode::Char('?'), KeyModifiers::SHIFT);
        assert_eq!(km.action_for(&q), Some(Action::Help));
        let q = ev(KeyCode::Char('?'), KeyModifiers::NONE);
        assert_eq!(km.action_for(&q), Some(Action::Help));
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('r'), KeyModifiers::CONTROL)),
            Some(Action::Refresh)
        );
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('r'), KeyModifiers::NONE)),
            Some(Action::Restore)
        );
        // Upper-case R is a different key from r.
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('R'), KeyModifiers::SHIFT)),
            None
        );
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        let mut release = ev(KeyCode::Char('j'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(km.action_for(&release), Some(Action::SelectDown));
        // ctrl-w is not w.
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('w'), KeyModifiers::CONTROL)),
            None
        );
    }

    #[test]
    fn override_replaces_keys() {
        let mut km = Keymap::default();
        km.apply_overrides([(Action::Withdraw, vec!["W"]), (Action::Restore, vec!["R"])])
            .unwrap();
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('W'), KeyModifiers::SHIFT)),
            Some(Action::Withdraw)
        );
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('w'), KeyModifiers::NONE)),
            None
        );
        assert_eq!(km.keys(Action::Restore), &[key(KeyCode::Char('R'))]);
        assert_eq!(km.keys(Action::Quit).len(), 2);
    }

    #[test]
    fn override_duplicate_is_rejected() {
        let mut km = Keymap::default();
        let err = km
            .apply_overrides([(Action::Withdraw, vec!["r"])])
            .unwrap_err();
        assert_eq!(err, "key `r` is bound to both `withdraw` and `restore`");
        assert_eq!(
            km,
            Keymap::default(),
            "failed overrides leave the map alone"
        );
        // Swapping two keys in one go is fine.
        km.apply_overrides([(Action::Withdraw, vec!["r"]), (Action::Restore, vec!["w"])])
            .unwrap();
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('r'), KeyModifiers::NONE)),
            Some(Action::Withdraw)
        );
    }

    #[test]
    fn override_rejects_empty_repeats_and_bad_specs() {
        let mut km = Keymap::default();
        let none: Vec<&str> = vec![];
        assert!(km.apply_overrides([(Action::Quit, none)]).is_err());
        assert!(km
            .apply_overrides([(Action::Quit, vec!["q", "q"])])
            .unwrap_err()
            .contains("listed twice"));
        assert!(km
            .apply_overrides([(Action::Quit, vec!["nope"])])
            .unwrap_err()
            .contains("unknown key `nope`"));
    }

    #[test]
    fn action_names_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::from_name(a.name()), Some(a));
            assert!(!a.description().is_empty());
        }
        assert_eq!(Action::from_name("withdrow"), None);
    }
}
