//! Header: what the anycast address is, who advertises it, and who serves it.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::style;
use crate::app::latency::Health;
use crate::app::State;
use crate::domain::time::secs_between;
use crate::domain::{age, best_path, failure_word, BestPath};

pub fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let advertising = state.advertising();
    let mut first = vec![
        Span::styled(" platform-tui ", style::header(t)),
        Span::raw(" "),
        Span::styled(state.prefix.clone(), style::accent(t)),
    ];
    match (best_path(state.observer.as_ref()), &state.observer) {
        (BestPath::Metro(best), _) => {
            first.push(Span::raw("  best path "));
            first.push(Span::styled(best, style::ok(t)));
        }
        // A path the observer prefers, but not through any metro of ours.
        (BestPath::Peer(peer), _) => first.push(Span::styled(
            format!("  best via peer {peer} (not a configured metro)"),
            style::warn(t),
        )),
        // Black-holed only when the observer answered and holds no route at all.
        (BestPath::NoRoute, _) => {
            first.push(Span::styled("  NO ROUTE: black-holed", style::error(t)))
        }
        (BestPath::NoBest, _) => {
            first.push(Span::styled("  routes, but no best path", style::warn(t)))
        }
        (BestPath::Unknown, Some(Err(e))) => {
            let since = state
                .observer_error_since
                .map(|s| secs_between(s, state.now))
                .unwrap_or(0);
            let text = match failure_word(e) {
                "silent" => format!("  observer silent ({})", age(since)),
                _ => format!("  observer: {e} ({})", age(since)),
            };
            first.push(Span::styled(text, style::error(t)));
        }
        (BestPath::Unknown, _) if state.has_observer => {
            first.push(Span::styled("  observer: polling…", style::dim(t)))
        }
        (BestPath::Unknown, _) => {
            first.push(Span::styled("  no observer configured", style::dim(t)))
        }
    }
    if let Some(health) = state.anycast_health() {
        first.push(Span::raw("  │ anycast "));
        first.push(health_span(&health, state));
    }
    if state.read_only {
        first.push(Span::styled("  [READ-ONLY]", style::warn(t)));
    }
    let adv_text = if advertising.is_empty() {
        "none".to_string()
    } else {
        advertising.join(", ")
    };
    let adv_style = if advertising.is_empty() {
        style::error(t)
    } else {
        style::ok(t)
    };
    let polled = match (&state.poller_error, state.last_poll) {
        (Some(_), _) => "POLLING STOPPED (see events)".to_string(),
        (None, Some(p)) => format!("polled {} ago", age(secs_between(p, state.now))),
        (None, None) => "waiting for the first poll".to_string(),
    };
    let status = [
        Span::raw(" advertising: "),
        Span::styled(adv_text, adv_style),
        Span::styled(format!("  {polled} · {}", state.source), style::dim(t)),
    ];
    let status_width: usize = status.iter().map(Span::width).sum();
    // Tabs name the key that shows them, as the keymap has it. When every title does not
    // fit beside the status, only the shown view keeps its title (the keys stay; `?`
    // lists what they show).
    let full = tabs(state, true);
    let fits =
        full.iter().map(Span::width).sum::<usize>() + status_width <= usize::from(area.width);
    let mut second = if fits { full } else { tabs(state, false) };
    second.extend(status);
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]),
        area,
    );
}

/// `[1 overview] [2 latency] …`, or with `titled` false `[1] [2 latency] …` (only the
/// shown view titled).
fn tabs(state: &State, titled: bool) -> Vec<Span<'static>> {
    let t = &state.theme;
    let mut out = vec![Span::raw(" ")];
    for view in <crate::app::View as strum::IntoEnumIterator>::iter() {
        let shown = state.view == view;
        let st = if shown {
            style::selected(t)
        } else {
            style::dim(t)
        };
        let key = state.keymap.label(view.command());
        let label = if titled || shown {
            format!("[{key} {}]", view.title())
        } else {
            format!("[{key}]")
        };
        out.push(Span::styled(label, st));
        out.push(Span::raw(" "));
    }
    out
}

/// The anycast figure: healthy only while the latest probes answer.
fn health_span(h: &Health, state: &State) -> Span<'static> {
    let t = &state.theme;
    let st = match h {
        Health::Probing => style::dim(t),
        _ => style::level(t, h.level()),
    };
    Span::styled(h.words(state.now), st)
}
