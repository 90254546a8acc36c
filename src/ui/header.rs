//! Header: what the anycast address is, who advertises it, and who serves it.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::style;
use crate::app::latency::Health;
use crate::app::State;
use crate::domain::age;

pub fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let advertising = state.advertising();
    let mut first = vec![
        Span::styled(" platform-tui ", style::header(t)),
        Span::raw(" "),
        Span::styled(state.prefix.clone(), style::accent(t)),
    ];
    match (&state.observer, state.best()) {
        (Some(Ok(_)), Some(best)) => {
            first.push(Span::raw("  best path "));
            first.push(Span::styled(best.to_string(), style::ok(t)));
        }
        (Some(Ok(_)), None) => first.push(Span::styled("  NO ROUTE: black-holed", style::error(t))),
        (Some(Err(e)), _) => {
            let since = state
                .observer_error_since
                .map(|s| secs_between(s, state.now))
                .unwrap_or(0);
            first.push(Span::styled(
                format!("  observer: {e} ({})", age(since)),
                style::error(t),
            ));
        }
        (None, _) if state.has_observer => {
            first.push(Span::styled("  observer: polling…", style::dim(t)))
        }
        (None, _) => first.push(Span::styled("  no observer configured", style::dim(t))),
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
    let polled = match state.last_poll {
        Some(p) => format!("polled {} ago", age(secs_between(p, state.now))),
        None => "waiting for the first poll".to_string(),
    };
    let mut second = vec![Span::raw(" ")];
    for (view, label) in [
        (crate::app::View::Overview, "1 overview"),
        (crate::app::View::Latency, "2 latency"),
        (crate::app::View::Nomad, "3 nomad"),
    ] {
        let st = if state.view == view {
            style::selected(t)
        } else {
            style::dim(t)
        };
        second.push(Span::styled(format!("[{label}]"), st));
        second.push(Span::raw(" "));
    }
    second.extend([
        Span::raw(" advertising: "),
        Span::styled(adv_text, adv_style),
        Span::styled(format!("  {polled} · {}", state.source), style::dim(t)),
    ]);
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]),
        area,
    );
}

/// The anycast figure: healthy only while the latest probes answer.
fn health_span(h: &Health, state: &State) -> Span<'static> {
    let t = &state.theme;
    match h {
        Health::Answering {
            ms,
            served_by,
            inferred,
            lost,
        } => {
            let by = match served_by {
                Some(b) if *inferred => format!(" via {b}?"),
                Some(b) => format!(" via {b}"),
                None => String::new(),
            };
            if *lost > 0 {
                Span::styled(format!("{ms:.0} ms{by}, last probe lost"), style::warn(t))
            } else {
                Span::styled(format!("{ms:.0} ms{by}"), style::ok(t))
            }
        }
        Health::Failing { since, lost } => Span::styled(
            format!(
                "LOST ({lost} probes, {})",
                age(secs_between(*since, state.now))
            ),
            style::error(t),
        ),
        Health::NoRoute => Span::styled("NO ROUTE", style::error(t)),
        Health::Probing => Span::styled("probing…", style::dim(t)),
    }
}

pub(crate) fn secs_between(earlier: std::time::SystemTime, later: std::time::SystemTime) -> u64 {
    later
        .duration_since(earlier)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
