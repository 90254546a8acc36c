//! The lab's built-in table of metro codes, with the round-trip time a viewer in Edinburgh
//! would see to each. The upstream prefers metros by this distance, so the nearest
//! advertising metro serves the anycast address, as on the real internet.

/// One metro the lab knows how to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetroSpec {
    pub code: &'static str,
    pub display_name: &'static str,
    /// Round trip from the lab's viewer (Edinburgh), in milliseconds.
    pub rtt_ms: u32,
}

/// Codes follow the platform's metro codes; `am` and `da` carry the write-up's figures
/// (~70 ms via Amsterdam, ~300 ms via Dallas).
pub const METROS: &[MetroSpec] = &[
    MetroSpec {
        code: "am",
        display_name: "Amsterdam",
        rtt_ms: 70,
    },
    MetroSpec {
        code: "da",
        display_name: "Dallas",
        rtt_ms: 300,
    },
    MetroSpec {
        code: "ld",
        display_name: "London",
        rtt_ms: 40,
    },
    MetroSpec {
        code: "pa",
        display_name: "Paris",
        rtt_ms: 75,
    },
    MetroSpec {
        code: "fr",
        display_name: "Frankfurt",
        rtt_ms: 80,
    },
    MetroSpec {
        code: "sk",
        display_name: "Stockholm",
        rtt_ms: 90,
    },
    MetroSpec {
        code: "md",
        display_name: "Madrid",
        rtt_ms: 95,
    },
    MetroSpec {
        code: "ny",
        display_name: "New York",
        rtt_ms: 150,
    },
    MetroSpec {
        code: "dc",
        display_name: "Washington",
        rtt_ms: 160,
    },
    MetroSpec {
        code: "tr",
        display_name: "Toronto",
        rtt_ms: 170,
    },
    MetroSpec {
        code: "ch",
        display_name: "Chicago",
        rtt_ms: 190,
    },
    MetroSpec {
        code: "se",
        display_name: "Seattle",
        rtt_ms: 260,
    },
    MetroSpec {
        code: "sv",
        display_name: "Silicon Valley",
        rtt_ms: 280,
    },
    MetroSpec {
        code: "la",
        display_name: "Los Angeles",
        rtt_ms: 290,
    },
    MetroSpec {
        code: "sp",
        display_name: "Sao Paulo",
        rtt_ms: 380,
    },
    MetroSpec {
        code: "sg",
        display_name: "Singapore",
        rtt_ms: 420,
    },
    MetroSpec {
        code: "hk",
        display_name: "Hong Kong",
        rtt_ms: 450,
    },
    MetroSpec {
        code: "ty",
        display_name: "Tokyo",
        rtt_ms: 460,
    },
    MetroSpec {
        code: "sy",
        display_name: "Sydney",
        rtt_ms: 560,
    },
];

pub fn lookup(code: &str) -> Option<&'static MetroSpec> {
    METROS.iter().find(|m| m.code == code)
}

/// The error for a code not in the table: it names the known codes.
pub fn unknown(code: &str) -> String {
    let known: Vec<&str> = METROS.iter().map(|m| m.code).collect();
    format!(
        "unknown metro `{}`; known: {}",
        crate::domain::text::visible(code),
        known.join(",")
    )
}

/// Parses `am,da,...`: known codes, no duplicates, at least one.
pub fn parse_list(list: &str) -> Result<Vec<&'static MetroSpec>, String> {
    let mut out: Vec<&'static MetroSpec> = Vec::new();
    for code in list.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let spec = lookup(code).ok_or_else(|| unknown(code))?;
        if out.iter().any(|m| m.code == code) {
            return Err(format!("metro `{code}` listed twice"));
        }
        out.push(spec);
    }
    if out.is_empty() {
        return Err("no metros given".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_codes_in_order() {
        let m = parse_list("da, am").unwrap();
        assert_eq!(m.iter().map(|m| m.code).collect::<Vec<_>>(), ["da", "am"]);
    }

    #[test]
    fn rejects_unknown_and_duplicates() {
        assert!(parse_list("am,xx")
            .unwrap_err()
            .contains("unknown metro `xx`"));
        assert!(parse_list("am,am").unwrap_err().contains("twice"));
        assert!(parse_list(" , ").is_err());
    }

    #[test]
    fn write_up_figures() {
        assert_eq!(lookup("am").unwrap().rtt_ms, 70);
        assert_eq!(lookup("da").unwrap().rtt_ms, 300);
    }
}
