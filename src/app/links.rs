//! Remote metros' SSH links in the console: the latest state of each (from the `ssh`
//! room, through the runtime), and an event whenever one changes — up (with how long it
//! took, and any tunnel the far end refuses), down (with ssh's own words and what a
//! person must do). The metros table shows a link that is not up in the metro's row (the
//! poll reports it as the router's error); these are the transitions.

use crate::domain::link::{LinkState, LinkStatus, Tunnel};
use crate::domain::Level;

use super::{Effect, State};

/// A metro's link changed. A change of state asks for a poll at once, so the row does
/// not wait for the next refresh.
pub(super) fn on_link(state: &mut State, metro: &str, status: LinkStatus) -> Vec<Effect> {
    let before = state.links.insert(metro.to_string(), status.clone());
    let down = |s: &LinkStatus| matches!(s.state, LinkState::Down | LinkState::Reconnecting);
    let news = match &before {
        // The first connection starting is no news.
        None => status.state != LinkState::Connecting,
        Some(b) => {
            (b.state != status.state && !(down(b) && down(&status)))
                || (status.is_up() && (b.bird != status.bird || b.nomad != status.nomad))
                || (down(b) && down(&status) && b.error != status.error)
        }
    };
    if news {
        let refused = matches!(status.bird, Tunnel::Refused(_))
            || matches!(status.nomad, Some(Tunnel::Refused(_)));
        let level = match status.state {
            LinkState::Up if refused => Level::Warn,
            LinkState::Up => Level::Good,
            LinkState::Connecting => Level::Info,
            LinkState::Down | LinkState::Reconnecting => Level::Error,
        };
        state.event(level, format!("{metro}: {}", status.event_text()));
    }
    let moved = before.is_none_or(|b| b.is_up() != status.is_up() || b.bird != status.bird);
    if moved {
        vec![Effect::Refresh]
    } else {
        Vec::new()
    }
}
