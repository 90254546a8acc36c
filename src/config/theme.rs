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

/// A colour slot, by its name in `[console.theme]`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::EnumString, strum::IntoStaticStr,
)]
#[strum(serialize_all = "snake_case")]
pub enum Slot {
    Ok,
    Warn,
    Error,
    Accent,
    Dim,
    SelectedBg,
    Header,
    Lost,
    Chart,
}

impl Slot {
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Every slot, in declaration order.
    pub fn all() -> impl Iterator<Item = Slot> {
        <Slot as strum::IntoEnumIterator>::iter()
    }
}

impl Theme {
    /// The colour a slot holds.
    pub fn color(&self, slot: Slot) -> Color {
        match slot {
            Slot::Ok => self.ok,
            Slot::Warn => self.warn,
            Slot::Error => self.error,
            Slot::Accent => self.accent,
            Slot::Dim => self.dim,
            Slot::SelectedBg => self.selected_bg,
            Slot::Header => self.header,
            Slot::Lost => self.lost,
            Slot::Chart => self.chart,
        }
    }

    fn slot_mut(&mut self, slot: Slot) -> &mut Color {
        match slot {
            Slot::Ok => &mut self.ok,
            Slot::Warn => &mut self.warn,
            Slot::Error => &mut self.error,
            Slot::Accent => &mut self.accent,
            Slot::Dim => &mut self.dim,
            Slot::SelectedBg => &mut self.selected_bg,
            Slot::Header => &mut self.header,
            Slot::Lost => &mut self.lost,
            Slot::Chart => &mut self.chart,
        }
    }

    /// Set one slot by name.
    pub fn set(&mut self, name: &str, color: Color) -> Result<(), String> {
        match name.parse::<Slot>() {
            Ok(slot) => {
                *self.slot_mut(slot) = color;
                Ok(())
            }
            Err(_) => Err(format!(
                "unknown theme colour `{name}`, expected one of {}",
                Slot::all()
                    .map(|s| format!("`{}`", s.name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
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
        assert_eq!(t.color(Slot::SelectedBg), Color::Indexed(236));
        assert_eq!(Slot::all().count(), 9);
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
        for (name, colour) in [("ok", "blue"), ("selected_bg", "#000080"), ("lost", "red")] {
            t.set(name, parse_color(colour).unwrap()).unwrap();
        }
        assert_eq!(t.lost, Color::Red);
        assert_eq!(t.chart, Color::Cyan);
        assert_eq!(t.ok, Color::Blue);
        assert_eq!(t.selected_bg, Color::Rgb(0, 0, 0x80));
        assert_eq!(t.warn, Color::Yellow);
    }

    #[test]
    fn unknown_names_and_colours_are_errors() {
        let mut t = Theme::default();
        let err = t.set("okay", Color::Blue).unwrap_err();
        assert!(err.starts_with("unknown theme colour `okay`, expected one of `ok`, `warn`"));
        assert!(parse_color("blu").is_err());
        assert_eq!(t, Theme::default(), "a refused slot leaves the theme alone");
    }
}
