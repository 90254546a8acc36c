//! A one-line sparkline of latency samples where lost samples are visibly marked (a
//! cross in the "lost" colour), never drawn as zero or as a gap that looks fast.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::style;
use crate::config::theme::Theme;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The last `width` samples, scaled between their own min and max.
pub fn sparkline(samples: &[Option<f64>], width: usize, theme: &Theme) -> Line<'static> {
    let tail = &samples[samples.len().saturating_sub(width)..];
    let values = tail.iter().flatten();
    let lo = values.clone().copied().fold(f64::INFINITY, f64::min);
    let hi = values.copied().fold(f64::NEG_INFINITY, f64::max);
    let mut spans = Vec::with_capacity(tail.len());
    let bar_style = Style::new().fg(theme.chart);
    for v in tail {
        match v {
            Some(v) => {
                let level = if hi - lo < 1.0 {
                    1
                } else {
                    (((v - lo) / (hi - lo)) * 7.0).round() as usize
                };
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
