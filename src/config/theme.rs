//! Colours as data: the console's semantic colour slots (`ok`, `warn`, `error`, ...),
//! their defaults, and overrides by name from `[console.theme]`.
//!
//! This file only maps names to `ratatui::style::Color`; building styles and drawing
//! belong to `ui`.

use std::str::FromStr;

use ratatui::style::Color;

/// The console's colours, by meaning rather than by hue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    /// Healthy: session established, metro advertising.
    pub ok: Color,
    /// Degraded or in flux: withdrawn on purpose, converging, drift.
    pub warn: Color,
    /// Failed: backend unreachable, session down, verification failed.
    pub error: Color,
    /// Highlights: the metro serving the anycast address, key hints.
    pub accent: Color,
    /// Secondary text: ages, labels, help descriptions.
    pub dim: Color,
    /// Background of the selected row.
    pub selected_bg: Color,
    /// Table headers and titles.
    pub header: Color,
    /// Lost probe samples (timeouts, refused connections) in the latency pane.
    pub lost: Color,
    /// The latency chart's lines.
    pub chart: Color,
}

impl Default for Theme {
    fn default() -> Self {
        Theme {
            ok: Color::Green,
            warn: Color::Yellow,
            error: Color::Red,
            accent: Color::Cyan,
            dim: Color::DarkGray,
            selected_bg: Color::Indexed(236),
            header: Color::White,
            lost: Color::Magenta,
            chart: Color::Cyan,
        }
    }
}

impl Theme {
    /// The slot names accepted in `[console.theme]`, in declaration order.
    pub const NAMES: [&'static str; 9] = [
        "ok",
        "warn",
        "error",
        "accent",
        "dim",
        "selected_bg",
        "header",
        "lost",
        "chart",
    ];

    fn slot(&mut self, name: &str) -> Option<&mut Color> {
        Some(match name {
            "ok" => &mut self.ok,
            "warn" => &mut self.warn,
            "error" => &mut self.error,
            "accent" => &mut self.accent,
            "dim" => &mut self.dim,
            "selected_bg" => &mut self.selected_bg,
            "header" => &mut self.header,
            "lost" => &mut self.lost,
            "chart" => &mut self.chart,
            _ => return None,
        })
    }

    /// Every slot with its colour, in [`Theme::NAMES`] order.
    pub fn entries(&self) -> [(&'static str, Color); 9] {
        [
            ("ok", self.ok),
            ("warn", self.warn),
            ("error", self.error),
            ("accent", self.accent),
            ("dim", self.dim),
            ("selected_bg", self.selected_bg),
            ("header", self.header),
            ("lost", self.lost),
            ("chart", self.chart),
        ]
    }

    /// Set one slot by name.
    pub fn set(&mut self, name: &str, color: Color) -> Result<(), String> {
        match self.slot(name) {
            Some(slot) => {
                *slot = color;
                Ok(())
            }
            None => Err(format!(
                "unknown theme colour `{name}`, expected one of {}",
                list(&Theme::NAMES)
            )),
        }
    }

    /// Apply `(slot, colour)` overrides; on error `self` is left unchanged.
    pub fn apply_overrides<I, N, C>(&mut self, overrides: I) -> Result<(), String>
    where
        I: IntoIterator<Item = (N, C)>,
        N: AsRef<str>,
        C: AsRef<str>,
    {
        let mut next = self.clone();
        for (name, colour) in overrides {
            next.set(name.as_ref(), parse_color(colour.as_ref())?)?;
        }
        *self = next;
        Ok(())
    }
}

/// Parse a colour: a name (`green`, `lightblue`, `darkgray`, ...), `#rrggbb`, or an
/// index into the terminal's 256-colour palette (`"236"`).
pub fn parse_color(s: &str) -> Result<Color, String> {
    Color::from_str(s.trim()).map_err(|_| {
        format!(
            "unknown colour `{s}`, expected a name (black, red, green, yellow, blue, \
             magenta, cyan, gray, darkgray, white, light<colour>, reset), #rrggbb or 0..255"
        )
    })
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let t = Theme::default();
        assert_eq!(t.ok, Color::Green);
        assert_eq!(t.warn, Color::Yellow);
        assert_eq!(t.error, Color::Red);
        assert_eq!(t.accent, Color::Cyan);
        assert_eq!(t.dim, Color::DarkGray);
        assert_eq!(t.header, Color::White);
        assert_eq!(t.lost, Color::Magenta);
        assert_eq!(t.chart, Color::Cyan);
        assert_eq!(t.entries().map(|(n, _)| n), Theme::NAMES);
    }

    #[test]
    fn colours_parse() {
        assert_eq!(parse_color("green").unwrap(), Color::Green);
        assert_eq!(parse_color("LightBlue").unwrap(), Color::LightBlue);
        assert_eq!(parse_color("dark-gray").unwrap(), Color::DarkGray);
        assert_eq!(
            parse_color("#1e90ff").unwrap(),
            Color::Rgb(0x1e, 0x90, 0xff)
        );
        assert_eq!(parse_color("236").unwrap(), Color::Indexed(236));
        for bad in ["", "chartreuse", "#12345", "#gggggg", "256"] {
            assert!(parse_color(bad).is_err(), "{bad:?}");
        }
        assert!(parse_color("chartreuse")
            .unwrap_err()
            .starts_with("unknown colour `chartreuse`"));
    }

    #[test]
    fn overrides_by_name() {
        let mut t = Theme::default();
        t.apply_overrides([("ok", "blue"), ("selected_bg", "#000080"), ("lost", "red")])
            .unwrap();
        assert_eq!(t.lost, Color::Red);
        assert_eq!(t.chart, Color::Cyan);
        assert_eq!(t.ok, Color::Blue);
        assert_eq!(t.selected_bg, Color::Rgb(0, 0, 0x80));
        assert_eq!(t.warn, Color::Yellow);
    }

    #[test]
    fn unknown_names_and_colours_are_errors() {
        let mut t = Theme::default();
        let err = t.apply_overrides([("okay", "blue")]).unwrap_err();
        assert!(err.starts_with("unknown theme colour `okay`, expected one of `ok`"));
        assert!(t.apply_overrides([("ok", "blu")]).is_err());
        assert_eq!(
            t,
            Theme::default(),
            "failed overrides leave the theme alone"
        );
    }
}
