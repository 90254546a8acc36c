//! Key bindings as data: the [`Command`]s an operator can give with one key, the
//! default keys for each, parsing of key specs such as `"ctrl-r"`, and overrides from
//! `[console.keys]`.
//!
//! This file owns the binding table that the state machine (`command_for`), the help
//! overlay (`bindings`) and every key hint on screen (`label`) read, so none can
//! disagree with another. Commands live in layers: the dialog's keys (confirm, cancel,
//! force) may reuse keys of the main layer, since a dialog takes every key while it is
//! open. It does no I/O and draws nothing.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use strum::{EnumIter, EnumMessage, EnumString, IntoEnumIterator, IntoStaticStr};

/// Something the operator can tell the console with one key. The snake_case name is the
/// key in `[console.keys]`; the message is its line in the help.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    EnumString,
    IntoStaticStr,
    EnumMessage,
)]
#[strum(serialize_all = "snake_case")]
pub enum Command {
    #[strum(message = "select the previous metro (or row; logs: a line back)")]
    SelectUp,
    #[strum(message = "select the next metro (or row; logs: a line on)")]
    SelectDown,
    #[strum(message = "withdraw the selected metro's anycast advertisement")]
    Withdraw,
    #[strum(message = "restore the selected metro's anycast advertisement")]
    Restore,
    #[strum(message = "poll every metro now")]
    Refresh,
    #[strum(message = "show or hide this help")]
    Help,
    #[strum(message = "quit the console")]
    Quit,
    #[strum(message = "show the overview")]
    ViewOverview,
    #[strum(message = "show the latency pane")]
    ViewLatency,
    #[strum(message = "show the Nomad pane")]
    ViewNomad,
    #[strum(message = "show the provisioning pane")]
    ViewProvision,
    #[strum(message = "show the deployment pane")]
    ViewDeploy,
    #[strum(message = "cycle views")]
    NextView,
    #[strum(message = "freeze or unfreeze the latency chart")]
    Freeze,
    #[strum(message = "shorten the chart's time window")]
    ZoomIn,
    #[strum(message = "lengthen the chart's time window")]
    ZoomOut,
    #[strum(message = "chart every metro, not only anycast")]
    ToggleAllMetros,
    #[strum(message = "Nomad pane: next metro (or all)")]
    NextMetro,
    #[strum(message = "Nomad pane: filter jobs and allocations")]
    Filter,
    #[strum(message = "Nomad pane: sort by the next column")]
    Sort,
    #[strum(message = "Nomad pane: open the selected allocation")]
    Open,
    #[strum(message = "Nomad pane: follow the allocation's logs; provisioning: the raw log")]
    Logs,
    #[strum(message = "logs: switch stdout/stderr")]
    LogStream,
    #[strum(message = "close the logs (back to the detail) or the detail")]
    Back,
    #[strum(message = "logs: scroll back a page (list: a page up)")]
    ScrollBack,
    #[strum(message = "logs: scroll forward a page (list: a page down)")]
    ScrollForward,
    #[strum(message = "logs: follow new lines again (list: the last row)")]
    Follow,
    #[strum(message = "provisioning: plan the installer with the metros shown")]
    ProvisionPlan,
    #[strum(message = "provisioning: plan destroying everything the installer made")]
    ProvisionDestroy,
    #[strum(message = "provisioning: apply the plan (asks first)")]
    ProvisionApply,
    #[strum(message = "provisioning: stop terraform (gracefully; again: cancel)")]
    ProvisionCancel,
    #[strum(message = "provisioning: edit the metros variable")]
    ProvisionEdit,
    #[strum(message = "provisioning: write the metros the apply made into the config")]
    ProvisionWrite,
    #[strum(message = "deployment: type the app reference (Enter asks to deploy it)")]
    DeployEdit,
    #[strum(message = "deployment: drain metros first, or not (--no-drain)")]
    DeployDrain,
    #[strum(message = "deployment: stop before the next step (again: revert the metro now)")]
    DeployCancel,
    #[strum(message = "in a dialog: go ahead")]
    Confirm,
    #[strum(message = "in a dialog: cancel")]
    Cancel,
    #[strum(message = "in the last-metro dialog: force it (asked twice)")]
    Force,
    #[strum(message = "show the anycast panel: who serves the viewer, in big type")]
    ViewAnycast,
    #[strum(message = "in the demo: the next step of the story")]
    DemoNext,
}

/// Where a command's keys apply: everywhere, or only in a confirmation dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Main,
    Dialog,
}

impl Command {
    /// Every command, in the order the help lists them.
    pub fn all() -> impl Iterator<Item = Command> {
        Command::iter()
    }

    /// The command's key in `[console.keys]`.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The command named `name` in `[console.keys]`, if any.
    pub fn from_name(name: &str) -> Option<Command> {
        name.parse().ok()
    }

    /// One line for the help overlay.
    pub fn description(self) -> &'static str {
        self.get_message().unwrap_or("")
    }

    pub fn layer(self) -> Layer {
        match self {
            Command::Confirm | Command::Cancel | Command::Force => Layer::Dialog,
            _ => Layer::Main,
        }
    }

    /// The keys a command has unless `[console.keys]` says otherwise.
    pub fn default_keys(self) -> &'static [&'static str] {
        match self {
            Command::SelectUp => &["up", "k"],
            Command::SelectDown => &["down", "j"],
            Command::Withdraw => &["w"],
            Command::Restore => &["r"],
            Command::Refresh => &["ctrl-r"],
            Command::Help => &["?"],
            Command::Quit => &["q", "ctrl-c"],
            Command::ViewOverview => &["1"],
            Command::ViewLatency => &["2"],
            Command::ViewNomad => &["3"],
            Command::ViewProvision => &["4"],
            Command::ViewDeploy => &["5"],
            Command::NextView => &["tab"],
            Command::Freeze => &["f"],
            Command::ZoomIn => &["+"],
            Command::ZoomOut => &["-"],
            Command::ToggleAllMetros => &["a"],
            Command::NextMetro => &["m"],
            Command::Filter => &["/"],
            Command::Sort => &["s"],
            Command::Open => &["enter"],
            Command::Logs => &["l"],
            Command::LogStream => &["o"],
            Command::Back => &["esc"],
            Command::ScrollBack => &["pageup"],
            Command::ScrollForward => &["pagedown"],
            Command::Follow => &["end", "G"],
            Command::ProvisionPlan => &["p"],
            Command::ProvisionDestroy => &["D"],
            Command::ProvisionApply => &["A"],
            Command::ProvisionCancel => &["c"],
            Command::ProvisionEdit => &["e"],
            Command::ProvisionWrite => &["W"],
            Command::DeployEdit => &["d"],
            Command::DeployDrain => &["N"],
            Command::DeployCancel => &["x"],
            Command::Confirm => &["y", "enter"],
            Command::Cancel => &["n", "esc", "q", "ctrl-c"],
            Command::Force => &["F"],
            Command::ViewAnycast => &["6"],
            Command::DemoNext => &["space"],
        }
    }
}

impl fmt::Display for Command {
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

/// The binding table: for every [`Command`], the keys that give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    keys: BTreeMap<Command, Vec<KeySpec>>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap {
            keys: Command::all()
                .map(|c| {
                    let keys = c
                        .default_keys()
                        .iter()
                        .filter_map(|spec| parse_key(spec).ok())
                        .collect();
                    (c, keys)
                })
                .collect(),
        }
    }
}

impl Keymap {
    /// The main layer's command for a terminal key event, if any. The event's kind
    /// (press, repeat, release) is not looked at; the event loop filters presses.
    pub fn command_for(&self, event: &KeyEvent) -> Option<Command> {
        self.command_in(Layer::Main, event)
    }

    /// The command a key gives in `layer`.
    pub fn command_in(&self, layer: Layer, event: &KeyEvent) -> Option<Command> {
        Command::all()
            .filter(|c| c.layer() == layer)
            .find(|c| self.keys(*c).iter().any(|k| k.matches(event)))
    }

    /// The keys bound to one command.
    pub fn keys(&self, command: Command) -> &[KeySpec] {
        self.keys.get(&command).map_or(&[], Vec::as_slice)
    }

    /// The first key of a command, as the hints on screen show it (`"w"`, `"enter"`).
    pub fn label(&self, command: Command) -> String {
        self.keys(command)
            .first()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    /// A command's first two keys, joined the way hints show alternatives: `"y/enter"`
    /// (the help lists them all).
    pub fn labels(&self, command: Command) -> String {
        self.keys(command)
            .iter()
            .take(2)
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Every command with its key labels, in [`Command::all`] order; the help overlay
    /// is generated from this.
    pub fn bindings(&self) -> Vec<(Command, Vec<String>)> {
        Command::all()
            .map(|c| (c, self.keys(c).iter().map(ToString::to_string).collect()))
            .collect()
    }

    /// Replace one command's keys. A command needs at least one key, and a key may not
    /// be listed twice. Conflicts with other commands are checked by
    /// [`Keymap::conflict`].
    pub fn set_keys(&mut self, command: Command, keys: Vec<KeySpec>) -> Result<(), String> {
        if keys.is_empty() {
            return Err(format!("`{command}` needs at least one key"));
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].contains(k) {
                return Err(format!("key `{k}` is listed twice for `{command}`"));
            }
        }
        self.keys.insert(command, keys);
        Ok(())
    }

    /// The first key bound to two commands of one layer, if any, as (key, first
    /// command, second command) in [`Command::all`] order.
    pub fn conflict(&self) -> Option<(KeySpec, Command, Command)> {
        let all: Vec<Command> = Command::all().collect();
        for (i, a) in all.iter().enumerate() {
            for b in all[i + 1..].iter().filter(|b| b.layer() == a.layer()) {
                if let Some(k) = self.keys(*a).iter().find(|k| self.keys(*b).contains(k)) {
                    return Some((*k, *a, *b));
                }
            }
        }
        None
    }
}

/// The error text for a key bound to two commands.
pub fn conflict_message(key: KeySpec, a: Command, b: Command) -> String {
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

    fn key(code: KeyCode) -> KeySpec {
        KeySpec::new(code, KeyModifiers::NONE)
    }

    fn ctrl(c: char) -> KeySpec {
        KeySpec::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    /// What the config loader does with `[console.keys]`: each command's keys replaced,
    /// then a key bound twice in a layer refused, leaving the map as it was.
    fn apply<S: AsRef<str>>(
        km: &mut Keymap,
        overrides: impl IntoIterator<Item = (Command, Vec<S>)>,
    ) -> Result<(), String> {
        let mut next = km.clone();
        for (c, specs) in overrides {
            let keys = specs
                .iter()
                .map(|s| parse_key(s.as_ref()))
                .collect::<Result<Vec<_>, _>>()?;
            next.set_keys(c, keys)?;
        }
        if let Some((k, a, b)) = next.conflict() {
            return Err(conflict_message(k, a, b));
        }
        *km = next;
        Ok(())
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
        assert_eq!(b.len(), Command::all().count());
        assert_eq!(b[0], (Command::SelectUp, vec!["up".into(), "k".into()]));
        assert_eq!(b[4], (Command::Refresh, vec!["ctrl-r".into()]));
        assert_eq!(b[6], (Command::Quit, vec!["q".into(), "ctrl-c".into()]));
        let order: Vec<Command> = b.iter().map(|(a, _)| *a).collect();
        assert_eq!(order, Command::all().collect::<Vec<_>>());
        for a in Command::all() {
            assert!(!km.keys(a).is_empty(), "{a} has no default key");
        }
    }

    #[test]
    fn view_and_pane_defaults() {
        let km = Keymap::default();
        let labels =
            |a: Command| -> Vec<String> { km.keys(a).iter().map(ToString::to_string).collect() };
        for (action, name, want) in [
            (Command::ViewOverview, "view_overview", "1"),
            (Command::ViewLatency, "view_latency", "2"),
            (Command::ViewNomad, "view_nomad", "3"),
            (Command::NextView, "next_view", "tab"),
            (Command::Freeze, "freeze", "f"),
            (Command::ZoomIn, "zoom_in", "+"),
            (Command::ZoomOut, "zoom_out", "-"),
            (Command::ToggleAllMetros, "toggle_all_metros", "a"),
            (Command::NextMetro, "next_metro", "m"),
            (Command::Filter, "filter", "/"),
            (Command::Sort, "sort", "s"),
            (Command::Open, "open", "enter"),
            (Command::Logs, "logs", "l"),
            (Command::LogStream, "log_stream", "o"),
            (Command::Back, "back", "esc"),
            (Command::ViewAnycast, "view_anycast", "6"),
            (Command::DemoNext, "demo_next", "space"),
        ] {
            assert_eq!(action.name(), name);
            assert_eq!(labels(action), [want], "{name}");
            let k = parse_key(want).unwrap();
            assert_eq!(km.command_for(&ev(k.code, k.modifiers)), Some(action));
        }
        // The view keys come after the original seven, in the help overlay's order.
        assert_eq!(Command::all().nth(7), Some(Command::ViewOverview));
        assert_eq!(Command::all().nth(23), Some(Command::Back));
        for (action, name, want) in [
            (Command::ScrollBack, "scroll_back", &["pageup"][..]),
            (Command::ScrollForward, "scroll_forward", &["pagedown"]),
            (Command::Follow, "follow", &["end", "G"]),
        ] {
            assert_eq!(action.name(), name);
            assert_eq!(labels(action), want, "{name}");
            for spec in want {
                let k = parse_key(spec).unwrap();
                assert_eq!(km.command_for(&ev(k.code, k.modifiers)), Some(action));
            }
        }
        // `+` is typed with shift on most layouts; it still matches.
        assert_eq!(
            km.command_for(&ev(KeyCode::Char('+'), KeyModifiers::SHIFT)),
            Some(Command::ZoomIn)
        );
    }

    #[test]
    fn action_for_ignores_shift_on_characters() {
        let km = Keymap::default();
        let q = ev(KeyCode::Char('?'), KeyModifiers::SHIFT);
        assert_eq!(km.command_for(&q), Some(Command::Help));
        let q = ev(KeyCode::Char('?'), KeyModifiers::NONE);
        assert_eq!(km.command_for(&q), Some(Command::Help));
        assert_eq!(
            km.command_for(&ev(KeyCode::Char('r'), KeyModifiers::CONTROL)),
            Some(Command::Refresh)
        );
        assert_eq!(
            km.command_for(&ev(KeyCode::Char('r'), KeyModifiers::NONE)),
            Some(Command::Restore)
        );
        // Upper-case R is a different key from r.
        assert_eq!(
            km.command_for(&ev(KeyCode::Char('R'), KeyModifiers::SHIFT)),
            None
        );
        assert_eq!(
            km.command_for(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Command::Quit)
        );
        let mut release = ev(KeyCode::Char('j'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(km.command_for(&release), Some(Command::SelectDown));
        // ctrl-w is not w.
        assert_eq!(
            km.command_for(&ev(KeyCode::Char('w'), KeyModifiers::CONTROL)),
            None
        );
    }

    #[test]
    fn override_replaces_keys() {
        let mut km = Keymap::default();
        apply(
            &mut km,
            [
                (Command::Withdraw, vec!["X"]),
                (Command::Restore, vec!["R"]),
            ],
        )
        .unwrap();
        assert_eq!(
            km.command_for(&ev(KeyCode::Char('X'), KeyModifiers::SHIFT)),
            Some(Command::Withdraw)
        );
        assert_eq!(
            km.command_for(&ev(KeyCode::Char('w'), KeyModifiers::NONE)),
            None
        );
        assert_eq!(km.keys(Command::Restore), &[key(KeyCode::Char('R'))]);
        assert_eq!(km.keys(Command::Quit).len(), 2);
    }

    #[test]
    fn override_duplicate_is_rejected() {
        let mut km = Keymap::default();
        let err = apply(&mut km, [(Command::Withdraw, vec!["r"])]).unwrap_err();
        assert_eq!(err, "key `r` is bound to both `withdraw` and `restore`");
        assert_eq!(
            km,
            Keymap::default(),
            "failed overrides leave the map alone"
        );
        // Swapping two keys in one go is fine.
        apply(
            &mut km,
            [
                (Command::Withdraw, vec!["r"]),
                (Command::Restore, vec!["w"]),
            ],
        )
        .unwrap();
        assert_eq!(
            km.command_for(&ev(KeyCode::Char('r'), KeyModifiers::NONE)),
            Some(Command::Withdraw)
        );
    }

    #[test]
    fn override_rejects_empty_repeats_and_bad_specs() {
        let mut km = Keymap::default();
        let none: Vec<&str> = vec![];
        assert!(apply(&mut km, [(Command::Quit, none)]).is_err());
        assert!(apply(&mut km, [(Command::Quit, vec!["q", "q"])])
            .unwrap_err()
            .contains("listed twice"));
        assert!(apply(&mut km, [(Command::Quit, vec!["nope"])])
            .unwrap_err()
            .contains("unknown key `nope`"));
    }

    #[test]
    fn action_names_round_trip() {
        for a in Command::all() {
            assert_eq!(Command::from_name(a.name()), Some(a));
            assert!(!a.description().is_empty());
        }
        assert_eq!(Command::from_name("withdrow"), None);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod dialog_tests {
    use super::*;

    #[test]
    fn the_dialog_layer_reuses_keys_of_the_main_layer_but_not_its_own() {
        let km = Keymap::default();
        assert_eq!(km.conflict(), None, "esc is back and cancel, in two layers");
        let esc = KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE);
        assert_eq!(km.command_for(&esc), Some(Command::Back));
        assert_eq!(km.command_in(Layer::Dialog, &esc), Some(Command::Cancel));
        let y = KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE);
        assert_eq!(km.command_in(Layer::Dialog, &y), Some(Command::Confirm));
        assert_eq!(km.labels(Command::Confirm), "y/enter");
        let mut km = km;
        km.set_keys(Command::Force, vec![parse_key("n").unwrap()])
            .unwrap();
        let (k, a, b) = km.conflict().expect("n is cancel already");
        assert_eq!(
            conflict_message(k, a, b),
            "key `n` is bound to both `cancel` and `force`"
        );
    }
}
