//! A one-line sparkline of latency samples where lost samples are visibly marked (a
//! cross in the "lost" colour), never drawn as zero or as a gap that looks fast.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::style;
use crate::config::theme::Theme;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The span a sparkline shows at least, as a fraction of its highest value: 1 ms of
/// jitter on 73 ms stays a ripple instead of filling the bar.
const MIN_SPAN: f64 = 0.25;

/// The last `width` samples, scaled from their min over a span of at least a quarter of
/// their max (and 2 ms).
pub fn sparkline(samples: &[Option<f64>], width: usize, theme: &Theme) -> Line<'static> {
    let tail = &samples[samples.len().saturating_sub(width)..];
    let values = tail.iter().flatten();
    let lo = values.clone().copied().fold(f64::INFINITY, f64::min);
    let top = values.copied().fold(f64::NEG_INFINITY, f64::max);
    let hi = top.max(lo + (top * MIN_SPAN).max(2.0));
    let mut spans = Vec::with_capacity(tail.len());
    let bar_style = Style::new().fg(theme.chart);
    for v in tail {
        match v {
            Some(v) => {
                let level = (((v - lo) / (hi - lo)) * 7.0).round() as usize;
                spans.push(Span::styled(BARS[level.min(7)].to_string(), bar_style));
            }
            None => spans.push(Span::styled("×", style::lost(theme))),
        }
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_and_marks_losses() {
        let t = Theme::default();
        let line = sparkline(&[Some(10.0), None, Some(80.0), Some(45.0)], 10, &t);
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "▁×█▅");
    }

    #[test]
    fn small_jitter_stays_small() {
        let t = Theme::default();
        let line = sparkline(&[Some(73.0), Some(73.5), Some(74.0), Some(300.0)], 10, &t);
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "▁▁▁█");
        let line = sparkline(&[Some(73.0), Some(73.5), Some(74.0)], 10, &t);
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "▁▁▁", "1 ms on 73 ms is flat at this scale");
    }

    #[test]
    fn keeps_the_newest_and_handles_flat_and_empty() {
        let t = Theme::default();
        let line = sparkline(&[Some(5.0); 20], 4, &t);
        assert_eq!(line.spans.len(), 4);
        assert!(sparkline(&[], 4, &t).spans.is_empty());
        let lost: String = sparkline(&[None, None], 4, &t)
            .spans
            .iter()
            .map(|s| s.content.as_ref())
            .collect();
        assert_eq!(lost, "××");
    }
}
