//! Outputs of an installer (`terraform output -json`, and the stream's `outputs` message),
//! with sensitive values never kept: a [`Sensitive`] has no value, no accessor, and shows
//! as `(sensitive)` in `Display` and `Debug`. Also where the console's metros come from:
//! the regional address map (`regional_ip_addresses`: metro code -> address, a map or an
//! object) and the anycast address (`public_ip_address`).
//!
//! Facts: `shared/reference/provision.md` §4.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;
use serde_json::Value;

use crate::domain::text::visible;

/// A sensitive output: terraform printed a value, this program dropped it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sensitive(());

impl std::fmt::Display for Sensitive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(sensitive)")
    }
}

impl std::fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(sensitive)")
    }
}

/// An output's value.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputValue {
    /// A non-sensitive value, as JSON. Strings in it are raw: make them visible
    /// ([`crate::domain::text::visible`]) before showing them, or show the `Display`
    /// form, which has no control characters.
    Value(Value),
    Sensitive(Sensitive),
    /// No value (a planned output).
    Absent,
}

impl OutputValue {
    pub fn sensitive() -> OutputValue {
        OutputValue::Sensitive(Sensitive(()))
    }
    pub fn is_sensitive(&self) -> bool {
        matches!(self, OutputValue::Sensitive(_))
    }
}

impl std::fmt::Display for OutputValue {
    /// JSON (C0 controls escaped by JSON, DEL, C1 and bidi overrides made visible),
    /// `(sensitive)`, or `(known after apply)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputValue::Value(v) => f.write_str(&visible(&v.to_string())),
            OutputValue::Sensitive(s) => write!(f, "{s}"),
            OutputValue::Absent => f.write_str("(known after apply)"),
        }
    }
}

/// One output of `output -json`.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// Terraform's JSON type encoding (`"string"`, `["map","string"]`, `["object",{..}]`).
    pub kind: Value,
    pub value: OutputValue,
}

/// Every output by name (names made visible).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outputs(pub BTreeMap<String, Output>);

#[derive(Deserialize)]
struct WireOutput {
    #[serde(default)]
    sensitive: bool,
    #[serde(rename = "type", default)]
    kind: Value,
    #[serde(default)]
    value: Value,
}

impl Outputs {
    /// Parses `output -json` (one object, possibly spread over lines; `{}` with no state).
    /// Sensitive values are dropped here, before anything else can see them.
    pub fn parse(json: &[u8]) -> Result<Outputs, String> {
        let raw: BTreeMap<String, WireOutput> = serde_json::from_slice(json).map_err(|e| {
            format!("`output -json` printed something that is not its JSON object: {e}")
        })?;
        Ok(Outputs(
            raw.into_iter()
                .map(|(name, o)| {
                    let value = if o.sensitive {
                        OutputValue::sensitive()
                    } else {
                        OutputValue::Value(o.value)
                    };
                    (
                        visible(&name).into_owned(),
                        Output {
                            kind: o.kind,
                            value,
                        },
                    )
                })
                .collect(),
        ))
    }

    pub fn get(&self, name: &str) -> Option<&Output> {
        self.0.get(name)
    }

    /// `name = value` lines for an operator, sorted by name; sensitive ones `(sensitive)`.
    pub fn lines(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|(n, o)| format!("{n} = {}", o.value))
            .collect()
    }
}

/// The names of the outputs the console reads (`[provision] outputs` in the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputNames {
    /// Metro code -> the metro's address (default `regional_ip_addresses`).
    pub regional: String,
    /// The anycast address (default `public_ip_address`).
    pub anycast: String,
}

impl Default for OutputNames {
    fn default() -> Self {
        OutputNames {
            regional: "regional_ip_addresses".into(),
            anycast: "public_ip_address".into(),
        }
    }
}

/// The metros an installer made: metro code -> IP address, from the regional output (a
/// map or an object of strings). Errors name the output and say what is wrong (missing,
/// sensitive, not a map of addresses, a metro name the console cannot use).
pub fn metro_map(
    outputs: &Outputs,
    names: &OutputNames,
) -> Result<BTreeMap<String, IpAddr>, String> {
    let name = &names.regional;
    let out = outputs.get(name).ok_or_else(|| {
        format!(
            "the installer has no output `{}` (outputs: {})",
            visible(name),
            outputs.0.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    })?;
    let map = match &out.value {
        OutputValue::Value(Value::Object(m)) => m,
        OutputValue::Value(Value::Null) => return Ok(BTreeMap::new()),
        OutputValue::Sensitive(_) => {
            return Err(format!(
                "output `{}` is sensitive: the console cannot read metros from it",
                visible(name)
            ))
        }
        other => {
            return Err(format!(
                "output `{}` must be a map of metro to address, not {}",
                visible(name),
                short(other)
            ))
        }
    };
    let mut metros = BTreeMap::new();
    for (metro, addr) in map {
        crate::domain::check_metro_name(metro)
            .map_err(|e| format!("output `{}`: {e}", visible(name)))?;
        let ip = addr.as_str().and_then(parse_ip).ok_or_else(|| {
            format!(
                "output `{}`: metro `{metro}` has {}, not an IP address",
                visible(name),
                short(&OutputValue::Value(addr.clone()))
            )
        })?;
        metros.insert(metro.clone(), ip);
    }
    Ok(metros)
}

/// The anycast address from its output; `None` when the installer has no such output.
pub fn anycast_address(outputs: &Outputs, names: &OutputNames) -> Result<Option<IpAddr>, String> {
    let Some(out) = outputs.get(&names.anycast) else {
        return Ok(None);
    };
    match &out.value {
        OutputValue::Value(Value::String(s)) => parse_ip(s).map(Some).ok_or_else(|| {
            format!(
                "output `{}` is {}, not an IP address",
                visible(&names.anycast),
                short(&out.value)
            )
        }),
        OutputValue::Sensitive(_) => Err(format!(
            "output `{}` is sensitive: the console cannot read the anycast address from it",
            visible(&names.anycast)
        )),
        other => Err(format!(
            "output `{}` must be an address, not {}",
            visible(&names.anycast),
            short(other)
        )),
    }
}

/// An address as installers print it: `192.0.2.1`, or a network `192.0.2.1/32`.
fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let addr = s.split_once('/').map(|(a, _)| a).unwrap_or(s);
    addr.parse().ok()
}

/// A value for an error message: JSON, at most 60 characters.
fn short(v: &OutputValue) -> String {
    let t = v.to_string();
    if t.chars().count() > 60 {
        format!("{}...", t.chars().take(57).collect::<String>())
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT_JSON: &str = r#"{
  "admin_password": {
    "sensitive": true,
    "type": "string",
    "value": "s3cret-example"
  },
  "public_ip_address": {
    "sensitive": false,
    "type": "string",
    "value": "203.0.113.10"
  },
  "regional_ip_addresses": {
    "sensitive": false,
    "type": [
      "object",
      {
        "ams": "string",
        "dfw": "string"
      }
    ],
    "value": {
      "ams": "192.0.2.10",
      "dfw": "192.0.2.11"
    }
  }
}"#;

    #[test]
    fn sensitive_values_are_never_kept() {
        let o = Outputs::parse(OUTPUT_JSON.as_bytes()).unwrap();
        let everything = format!("{o:?} {}", o.lines().join("\n"));
        assert!(!everything.contains("s3cret"), "{everything}");
        assert!(o
            .lines()
            .contains(&"admin_password = (sensitive)".to_string()));
        assert!(o.get("admin_password").unwrap().value.is_sensitive());
    }

    #[test]
    fn metro_map_from_object_or_map() {
        let o = Outputs::parse(OUTPUT_JSON.as_bytes()).unwrap();
        let names = OutputNames::default();
        let m = metro_map(&o, &names).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m["ams"].to_string(), "192.0.2.10");
        assert_eq!(
            anycast_address(&o, &names).unwrap().unwrap().to_string(),
            "203.0.113.10"
        );
        let map = r#"{"regional_ip_addresses":{"sensitive":false,"type":["map","string"],"value":{"da":"198.51.100.2/32"}}}"#;
        let o = Outputs::parse(map.as_bytes()).unwrap();
        assert_eq!(
            metro_map(&o, &names).unwrap()["da"].to_string(),
            "198.51.100.2"
        );
        assert_eq!(anycast_address(&o, &names).unwrap(), None);
    }

    #[test]
    fn metro_map_errors_say_what_is_wrong() {
        let names = OutputNames::default();
        let empty = Outputs::parse(b"{}").unwrap();
        assert!(metro_map(&empty, &names)
            .unwrap_err()
            .contains("no output `regional_ip_addresses`"));
        let secret = r#"{"regional_ip_addresses":{"sensitive":true,"type":"string","value":"x"}}"#;
        let o = Outputs::parse(secret.as_bytes()).unwrap();
        assert!(metro_map(&o, &names).unwrap_err().contains("sensitive"));
        let bad = r#"{"regional_ip_addresses":{"sensitive":false,"type":"string","value":{"am":"not-an-ip"}}}"#;
        let o = Outputs::parse(bad.as_bytes()).unwrap();
        let e = metro_map(&o, &names).unwrap_err();
        assert!(e.contains("metro `am`") && e.contains("not an IP"), "{e}");
        let name = r#"{"regional_ip_addresses":{"sensitive":false,"type":"string","value":{"A\u001b":"192.0.2.1"}}}"#;
        let o = Outputs::parse(name.as_bytes()).unwrap();
        let e = metro_map(&o, &names).unwrap_err();
        assert!(
            e.contains("invalid metro name") && !e.contains('\x1b'),
            "{e}"
        );
        let list = r#"{"regional_ip_addresses":{"sensitive":false,"type":"string","value":["a"]}}"#;
        let o = Outputs::parse(list.as_bytes()).unwrap();
        assert!(metro_map(&o, &names).unwrap_err().contains("must be a map"));
    }

    #[test]
    fn values_are_shown_without_control_characters() {
        let v = OutputValue::Value(serde_json::json!("a\u{9b}2J\u{1b}]0;x\u{7}\u{202e}"));
        let shown = v.to_string();
        assert!(!shown.chars().any(|c| c.is_control()), "{shown:?}");
        assert!(shown.contains("\\u{9b}"), "{shown}");
    }

    #[test]
    fn not_json_is_an_error() {
        assert!(Outputs::parse(b"Error: no state").is_err());
    }
}
