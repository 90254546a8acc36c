//! The latency pane: one row per probe target (last, p50, p95, min, max, loss, jitter,
//! served-by, sparkline) and a braille chart of recent minutes with vertical markers at
//! withdrawals, restorations and changes of the serving metro.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker as Symbol;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Cell, Chart, Dataset, GraphType, Paragraph, Row, Table};
use ratatui::Frame;

use super::spark::sparkline;
use super::style;
use crate::app::latency::{Health, LatencyRow, ANYCAST};
use crate::app::State;
use crate::domain::clock;
use crate::domain::time::seconds_before;

pub fn draw(state: &State, frame: &mut Frame, area: Rect) {
    if state.latency.is_empty() {
        let text = "no probe targets: set [anycast] url and metros' address in the config";
        frame.render_widget(
            Paragraph::new(Span::styled(text, style::dim(&state.theme)))
                .block(Block::bordered().title(" latency ")),
            area,
        );
        return;
    }
    let rows_height = (state.latency.len() as u16 + 3).min(area.height / 2);
    let [table_area, chart_area] =
        Layout::vertical([Constraint::Length(rows_height), Constraint::Min(5)]).areas(area);
    table(state, frame, table_area);
    chart(state, frame, chart_area);
}

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into())
}

fn table(state: &State, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let wide = area.width >= 100;
    let mut head = vec![
        "TARGET", "SERVED", "NOW", "P50", "P95", "MIN", "MAX", "LOSS", "JTR",
    ];
    let mut widths = vec![
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(5),
    ];
    if wide {
        head.push("HISTORY");
        widths.push(Constraint::Min(10));
    }
    let spark_width = area.width.saturating_sub(80) as usize;
    // Statistics are computed for the rows that fit, not for every target.
    let fits = area.height.saturating_sub(3) as usize;
    let rows = state.latency.iter().take(fits).map(|r| {
        let w = r.stats.window();
        let last_lost = r.stats.last_sample().is_some_and(|s| !s.ok());
        let served = match (&r.served_by, r.inferred) {
            (Some(s), false) => Span::styled(s.clone(), style::ok(t)),
            (Some(s), true) => Span::styled(format!("{s}?"), style::dim(t)),
            (None, _) => Span::styled("-", style::dim(t)),
        };
        // Now: the median of the latest answers from the serving metro, so it moves with
        // the first probe after a switch while the window's P50 still remembers before.
        let now = if r.worker_error.is_some() {
            // Its worker is gone: the figures are the last it made, not current ones.
            Span::styled("stopped", style::error(t))
        } else if last_lost {
            Span::styled("lost", style::lost(t))
        } else {
            Span::styled(ms(r.headline()), Style::new().add_modifier(Modifier::BOLD))
        };
        let loss_style = if w.loss_pct > 0.0 {
            style::warn(t)
        } else {
            Style::new()
        };
        let mut cells = vec![
            Cell::from(r.target.clone()),
            Cell::from(served),
            Cell::from(now),
            Cell::from(ms(w.p50)),
            Cell::from(ms(w.p95)),
            Cell::from(ms(w.min)),
            Cell::from(ms(w.max)),
            Cell::from(Span::styled(format!("{:.0}%", w.loss_pct), loss_style)),
            Cell::from(ms(w.jitter_avg)),
        ];
        if wide {
            cells.push(Cell::from(sparkline(&r.stats.history(), spark_width, t)));
        }
        Row::new(cells)
    });
    let table = Table::new(rows, widths)
        .header(Row::new(head).style(style::dim(t)))
        .column_spacing(1)
        .block(Block::bordered().title(if state.latency.len() > fits {
            format!(
                " latency (ms, TTFB; now, then window statistics) · {} of {} targets ",
                fits,
                state.latency.len()
            )
        } else {
            " latency (ms, TTFB; now, then window statistics) ".to_string()
        }));
    frame.render_widget(table, area);
}

const MAX_SERIES: usize = 8;

/// At most two points (the lowest and the highest, in time order) per screen column:
/// a braille cell is two dots wide, so nothing visible is lost, and spikes survive.
fn decimate(points: Vec<(f64, f64)>, columns: usize) -> Vec<(f64, f64)> {
    if columns == 0 || points.len() <= 2 * columns {
        return points;
    }
    let chunk = points.len().div_ceil(columns);
    let mut out = Vec::with_capacity(2 * columns);
    for c in points.chunks(chunk) {
        let lo = c.iter().min_by(|a, b| a.1.total_cmp(&b.1));
        let hi = c.iter().max_by(|a, b| a.1.total_cmp(&b.1));
        if let (Some(lo), Some(hi)) = (lo, hi) {
            if lo.0 <= hi.0 {
                out.extend([*lo, *hi]);
            } else {
                out.extend([*hi, *lo]);
            }
        }
    }
    out
}

/// A charted target: its name, (x, ms) of answered probes, x of lost ones.
type Series = (String, Vec<(f64, f64)>, Vec<f64>);

pub(super) fn chart(state: &State, frame: &mut Frame, area: Rect) {
    let t = &state.theme;
    let end = state.chart.frozen_at.unwrap_or(state.now);
    let window = state.chart.window_secs as f64;
    let eligible = state
        .latency
        .iter()
        .filter(|r| state.chart.all_metros || r.target == ANYCAST);
    // More lines than this are unreadable; the title says how many were left out.
    let charted: Vec<&LatencyRow> = eligible.clone().take(MAX_SERIES).collect();
    let left_out = eligible.count() - charted.len();
    let columns = area.width.saturating_sub(8) as usize;
    let points: Vec<Series> = charted
        .iter()
        .map(|r| {
            let mut ok = Vec::new();
            let mut lost = Vec::new();
            for (at, v) in &r.series {
                let x = seconds_before(end, *at);
                if x < -window || *at > end {
                    continue;
                }
                match v {
                    Some(v) => ok.push((x, *v)),
                    None => lost.push(x),
                }
            }
            (r.target.clone(), decimate(ok, columns), lost)
        })
        .collect();
    let top = points
        .iter()
        .flat_map(|(_, ok, _)| ok.iter().map(|p| p.1))
        .fold(10.0f64, f64::max)
        * 1.1;
    // Levels at round numbers: the axis is labelled at each.
    let (step, levels) = nice_levels(top);
    let y_max = step * levels as f64;
    let lost_points: Vec<(f64, f64)> = points
        .iter()
        .flat_map(|(_, _, lost)| lost.iter().map(|x| (*x, y_max)))
        .collect();
    let markers: Vec<(String, [(f64, f64); 2])> = state
        .markers
        .iter()
        .filter(|m| m.at <= end)
        .map(|m| {
            (
                format!("{} {}", clock(m.at), m.label),
                seconds_before(end, m.at),
            )
        })
        .filter(|(_, x)| *x >= -window)
        .map(|(label, x)| (label, [(x, 0.0), (x, y_max)]))
        .collect();
    let palette = [t.chart, t.ok, t.warn, t.accent, t.header];
    let series_style = |i: usize| Style::new().fg(palette[i % palette.len()]);
    let mut datasets: Vec<Dataset> = markers
        .iter()
        .map(|(_, line)| {
            Dataset::default()
                .marker(Symbol::Braille)
                .graph_type(GraphType::Line)
                .style(style::dim(t))
                .data(line)
        })
        .collect();
    for (i, (_, ok, _)) in points.iter().enumerate() {
        datasets.push(
            Dataset::default()
                .marker(Symbol::Braille)
                .graph_type(GraphType::Line)
                .style(series_style(i))
                .data(ok),
        );
    }
    if !lost_points.is_empty() {
        datasets.push(
            Dataset::default()
                .marker(Symbol::Dot)
                .graph_type(GraphType::Scatter)
                .style(style::lost(t))
                .data(&lost_points),
        );
    }
    let mut title = vec![Span::raw(format!(
        " {} over {}s ",
        charted_name(state),
        state.chart.window_secs
    ))];
    // The figure now, beside the window the chart shows.
    if let Some(h) = state.anycast_health() {
        let st = match h {
            Health::Answering { lost: 0, .. } => style::header(t).add_modifier(Modifier::BOLD),
            Health::Probing => style::dim(t),
            _ => style::level(t, h.level()),
        };
        title.push(Span::styled("· now ", style::dim(t)));
        title.push(Span::styled(h.words(state.now), st));
        title.push(Span::raw(" "));
    }
    if left_out > 0 {
        title.push(Span::styled(
            format!("(+{left_out} not charted) "),
            style::dim(t),
        ));
    }
    if let Some(at) = state.chart.frozen_at {
        title.push(Span::styled(
            format!("FROZEN at {} ", clock(at)),
            style::warn(t),
        ));
    }
    // The legend is the bottom border: one coloured name per series, as many as fit.
    let mut legend = vec![Span::raw(" ")];
    let mut room = usize::from(area.width.saturating_sub(4));
    for (i, (name, _, _)) in points.iter().enumerate() {
        let item = format!("━ {name} ");
        if item.chars().count() > room {
            legend.push(Span::styled("…", style::dim(t)));
            break;
        }
        room -= item.chars().count();
        legend.push(Span::styled(item, series_style(i)));
    }
    if !lost_points.is_empty() && room > 7 {
        legend.push(Span::styled("• lost ", style::lost(t)));
        room -= 7;
    }
    if state
        .latency_row(ANYCAST)
        .is_some_and(|r| !r.runs.is_empty())
        && room > 20
    {
        legend.push(Span::styled("▀ served by (axis) ", style::dim(t)));
    }
    let block = Block::bordered()
        .title(Line::from(title))
        .title_bottom(Line::from(legend));
    let y_labels: Vec<String> = (0..=levels)
        .map(|i| {
            let v = step * i as f64;
            if i == levels {
                format!("{v:.0} ms")
            } else {
                format!("{v:.0}")
            }
        })
        .collect();
    let label_width = y_labels.iter().map(|l| l.len()).max().unwrap_or(1) as u16;
    let chart = Chart::new(datasets)
        .block(block)
        .legend_position(None)
        .x_axis(
            Axis::default()
                .bounds([-window, 0.0])
                .labels([format!("-{}s", state.chart.window_secs), "now".to_string()])
                .style(style::dim(t)),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, y_max])
                .labels(y_labels)
                .style(style::dim(t)),
        );
    frame.render_widget(chart, area);
    served_band(state, frame, area, label_width, end, window);
    label_markers(state, frame, area, label_width, window, &markers);
}

/// The served-by band: the x axis's line, coloured by the metro that served the anycast
/// address at each column's time and named where it changes ("am▀▀▀▀da▀▀▀").
fn served_band(
    state: &State,
    frame: &mut Frame,
    area: Rect,
    label_width: u16,
    end: std::time::SystemTime,
    window: f64,
) {
    let Some(row) = state.latency_row(ANYCAST).filter(|r| !r.runs.is_empty()) else {
        return;
    };
    // The axis line: above the x labels and the bottom border; right of the y labels and
    // the axis corner.
    let left = area.x + 1 + label_width + 1;
    let right = area.right().saturating_sub(1);
    if right <= left + 2 || area.height < 6 {
        return;
    }
    let y = area.bottom() - 3;
    let width = f64::from(right - left);
    let mut current: Option<&str> = None;
    let mut x = left;
    while x < right {
        // The time at the middle of this column.
        let back = window * (1.0 - (f64::from(x - left) + 0.5) / width);
        let at = end
            .checked_sub(std::time::Duration::from_secs_f64(back.max(0.0)))
            .unwrap_or(end);
        let Some(run) = row.served_at(at) else {
            current = None;
            x += 1;
            continue;
        };
        let st = super::anycast::metro_style(state, &run.by);
        if current != Some(run.by.as_str()) {
            current = Some(run.by.as_str());
            // Name the metro where its stretch starts, when the name fits before the edge.
            let name = crate::domain::text::visible(&run.by);
            let n = name.chars().count() as u16;
            if x + n < right {
                frame
                    .buffer_mut()
                    .set_string(x, y, name, st.add_modifier(Modifier::BOLD));
                x += n;
                continue;
            }
        }
        frame.buffer_mut().set_string(x, y, "▀", st);
        x += 1;
    }
}

/// Round levels for the y axis: (step, how many steps up to the top), 2 to 5 of them.
fn nice_levels(top: f64) -> (f64, usize) {
    let raw = top / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    (step, ((top / step).ceil() as usize).max(1))
}

/// Writes each marker's label at the top of its line ("withdraw am", "served by da");
/// markers too close to be labelled apart share one label, oldest first.
fn label_markers(
    state: &State,
    frame: &mut Frame,
    area: Rect,
    label_width: u16,
    window: f64,
    markers: &[(String, [(f64, f64); 2])],
) {
    // The plot: inside the border, right of the y labels and their axis line, above the
    // x axis and its labels.
    let left = area.x + 1 + label_width + 1;
    let right = area.right().saturating_sub(1);
    if right <= left + 4 || area.height < 5 {
        return;
    }
    let width = f64::from(right - left);
    let mut groups: Vec<(u16, String)> = Vec::new();
    for (label, line) in markers {
        let name = label.split_once(' ').map_or(label.as_str(), |(_, n)| n);
        let x = left + (((line[0].0 + window) / window) * width).round() as u16;
        match groups.last_mut() {
            Some((start, text)) if x <= *start + text.chars().count() as u16 => {
                text.push_str(", ");
                text.push_str(name);
            }
            _ => groups.push((x, format!(" {name}"))),
        }
    }
    for (x, text) in groups {
        let room = usize::from(right.saturating_sub(x));
        let shown: String = if text.chars().count() > room {
            // Near the right edge: end at the edge instead.
            let w = text.chars().count().min(usize::from(right - left)) as u16;
            let start = right - w;
            frame.buffer_mut().set_string(
                start,
                area.y + 1,
                text.chars().take(usize::from(w)).collect::<String>(),
                style::dim(&state.theme),
            );
            continue;
        } else {
            text
        };
        frame
            .buffer_mut()
            .set_string(x, area.y + 1, shown, style::dim(&state.theme));
    }
}

fn charted_name(state: &State) -> &'static str {
    if state.chart.all_metros {
        "every target"
    } else {
        "anycast"
    }
}

#[cfg(test)]
mod tests {
    use super::decimate;

    #[test]
    fn decimation_keeps_spikes_and_order() {
        let pts: Vec<(f64, f64)> = (0..1000)
            .map(|i| (i as f64, if i == 500 { 900.0 } else { 70.0 }))
            .collect();
        let d = decimate(pts.clone(), 50);
        assert!(d.len() <= 100);
        assert!(d.iter().any(|p| p.1 == 900.0), "the spike survives");
        assert!(d.windows(2).all(|w| w[0].0 <= w[1].0), "time order kept");
        assert_eq!(
            decimate(pts[..10].to_vec(), 50).len(),
            10,
            "short series untouched"
        );
    }
}
