//! The lab's installer: a real terraform module in `installer/` of the lab's directory,
//! shaped like the platform's installer, so provisioning is real on one machine.
//!
//! - `var.metros` (default: the metros the lab started with), validated against the
//!   lab's metro table, so an unknown code fails the plan with a diagnostic naming it;
//! - one `terraform_data.metro[CODE]` per metro, whose `local-exec` provisioners run
//!   `platform-tui lab metro add CODE --dir LAB` on create and `lab metro remove CODE
//!   --dir LAB` on destroy (a destroy-time provisioner may only use `self`, so the
//!   program, the directory and the code are kept in `input`); run directly, no shell;
//! - outputs `regional_ip_addresses` (metro -> address), `public_ip_address` (the anycast
//!   prefix's address) and a sensitive `admin_password` (random per lab);
//! - a state (`terraform.tfstate`) that already holds the lab's own metros: they were
//!   started by `lab up`, so a plan with the default metros has nothing to do, and adding
//!   one metro plans exactly one resource. `lab metro add` is idempotent as well (a
//!   running metro is left as it is), so even an apply from an empty state changes
//!   nothing for metros already running.
//!
//! Built-in features only (`terraform_data`, `local-exec`): `terraform init` needs no
//! network. The password and the state (which holds it) are written 0600 in a 0700
//! directory; platform-tui never prints the password.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::{err, LabError, LabMetro, LabState, METROS};

/// The installer's directory inside the lab's.
pub const DIR: &str = "installer";

/// A string as an HCL quoted template: `\`, `"`, `${` and `%{` escaped, control
/// characters as `\uNNNN`.
pub fn hcl_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| hcl_str(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The address part of the lab's prefix (`198.18.0.10/32` -> `198.18.0.10`).
fn anycast_address(state: &LabState) -> &str {
    state.prefix.split('/').next().unwrap_or(&state.prefix)
}

/// `main.tf`: the metro resources and their provisioners.
pub fn main_tf(state: &LabState, exe: &Path) -> String {
    let mut addresses = String::new();
    for code in &state.slots {
        if let Some(m) = state.metro_for(code) {
            let _ = writeln!(
                addresses,
                "    {} = {}",
                m.code,
                hcl_str(&m.addr.to_string())
            );
        }
    }
    format!(
        r#"# Written by `platform-tui lab up`: the lab's installer. One terraform_data per metro;
# creating one runs `platform-tui lab metro add CODE`, destroying one runs
# `platform-tui lab metro remove CODE`, against the running lab. Built-in features only:
# it works offline.

locals {{
  platform_tui = {exe}
  lab_dir      = {dir}

  # Every metro this lab can run, and its address.
  addresses = {{
{addresses}  }}
}}

resource "terraform_data" "metro" {{
  for_each = toset(var.metros)

  # A destroy-time provisioner may only use `self`: what it needs is kept here.
  input = {{
    code    = each.key
    address = local.addresses[each.key]
    program = local.platform_tui
    dir     = local.lab_dir
  }}

  # Run directly, no shell: `command` (the metro's code) is the last argument.
  provisioner "local-exec" {{
    interpreter = [self.input.program, "lab", "metro", "add", "--dir", self.input.dir]
    command     = self.input.code
  }}

  provisioner "local-exec" {{
    when        = destroy
    interpreter = [self.input.program, "lab", "metro", "remove", "--dir", self.input.dir]
    command     = self.input.code
  }}
}}
"#,
        exe = hcl_str(&exe.display().to_string()),
        dir = hcl_str(&state.dir.display().to_string()),
    )
}

/// `variables.tf`: `metros`, validated against the lab's table.
pub fn variables_tf(state: &LabState) -> String {
    let known: Vec<String> = METROS.iter().map(|m| m.code.to_string()).collect();
    let defaults: Vec<String> = state.metros.iter().map(|m| m.code.clone()).collect();
    format!(
        r#"variable "metros" {{
  description = "Metro codes the lab runs, from platform-tui's built-in table."
  type        = list(string)
  default     = {defaults}

  validation {{
    condition     = length(var.metros) > 0
    error_message = "The lab needs at least one metro."
  }}

  validation {{
    condition     = alltrue([for m in var.metros : contains({known}, m)])
    error_message = "Unknown metro code(s) for this lab: ${{join(", ", [for m in var.metros : m if !contains({known}, m)])}}. Known codes: {known_text}."
  }}
}}
"#,
        defaults = list(&defaults),
        known = list(&known),
        known_text = known.join(", "),
    )
}

/// `outputs.tf`: shaped like the platform installer's.
pub fn outputs_tf(state: &LabState) -> String {
    format!(
        r#"output "regional_ip_addresses" {{
  description = "Metro code to the metro's address."
  value       = {{ for code, m in terraform_data.metro : code => m.output.address }}
}}

output "public_ip_address" {{
  description = "The anycast prefix's address."
  value       = {anycast}
}}

output "admin_password" {{
  description = "The lab's admin password (platform-tui never shows it)."
  value       = local.admin_password
  sensitive   = true
}}
"#,
        anycast = hcl_str(anycast_address(state)),
    )
}

/// The state terraform would have written after creating the lab's own metros, with
/// `lineage` and ids as given. Terraform's state format version 4; written as by 1.4.0,
/// the first version with `terraform_data`, so every later terraform (and tofu) reads it.
pub fn seeded_state(
    state: &LabState,
    exe: &Path,
    password: &str,
    ids: &[String],
    lineage: &str,
) -> Value {
    let input = |m: &LabMetro| {
        json!({
            "value": {
                "address": m.addr.to_string(),
                "code": m.code,
                "dir": state.dir.display().to_string(),
                "program": exe.display().to_string(),
            },
            "type": ["object", {"address": "string", "code": "string", "dir": "string", "program": "string"}],
        })
    };
    let instances: Vec<Value> = state
        .metros
        .iter()
        .zip(ids)
        .map(|(m, id)| {
            json!({
                "index_key": m.code,
                "schema_version": 0,
                "attributes": {
                    "id": id,
                    "input": input(m),
                    "output": input(m),
                    "triggers_replace": null,
                },
                "sensitive_attributes": [],
            })
        })
        .collect();
    let regional: serde_json::Map<String, Value> = state
        .metros
        .iter()
        .map(|m| (m.code.clone(), json!(m.addr.to_string())))
        .collect();
    let regional_type: serde_json::Map<String, Value> = state
        .metros
        .iter()
        .map(|m| (m.code.clone(), json!("string")))
        .collect();
    json!({
        "version": 4,
        "terraform_version": "1.4.0",
        "serial": 1,
        "lineage": lineage,
        "outputs": {
            "admin_password": {"value": password, "type": "string", "sensitive": true},
            "public_ip_address": {"value": anycast_address(state), "type": "string"},
            "regional_ip_addresses": {"value": regional, "type": ["object", regional_type]},
        },
        "resources": [{
            "mode": "managed",
            "type": "terraform_data",
            "name": "metro",
            "provider": "provider[\"terraform.io/builtin/terraform\"]",
            "instances": instances,
        }],
        "check_results": null,
    })
}

/// 128 random bits as a UUID-shaped string.
fn uuid() -> Result<String, LabError> {
    let h = super::random_token()?;
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// Writes `installer/` into the lab's directory (replacing an earlier lab's, its state
/// included): the module, the password (`secret.tf`, 0600) and the seeded state (0600).
pub fn write(state: &LabState, exe: &Path) -> Result<PathBuf, LabError> {
    use std::os::unix::fs::DirBuilderExt as _;
    let dir = state.dir.join(DIR);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .or_else(|e| err(format!("cannot replace {}: {e}", dir.display())))?;
    }
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .or_else(|e| err(format!("cannot create {}: {e}", dir.display())))?;
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).or_else(|e| err(format!("cannot write {}: {e}", p.display())))
    };
    write("main.tf", &main_tf(state, exe))?;
    write("variables.tf", &variables_tf(state))?;
    write("outputs.tf", &outputs_tf(state))?;
    let password = super::random_token()?;
    super::write_private(
        &dir.join("secret.tf"),
        &format!(
            "# The lab's admin password (sensitive). Written by `platform-tui lab up`.\nlocals {{\n  admin_password = {}\n}}\n",
            hcl_str(&password)
        ),
    )?;
    let ids: Vec<String> = state
        .metros
        .iter()
        .map(|_| uuid())
        .collect::<Result<_, _>>()?;
    let seeded = seeded_state(state, exe, &password, &ids, &uuid()?);
    let text = serde_json::to_string_pretty(&seeded).or_else(|e| err(e.to_string()))?;
    super::write_private(&dir.join("terraform.tfstate"), &text)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_strings_cannot_break_out() {
        assert_eq!(hcl_str("plain"), "\"plain\"");
        assert_eq!(hcl_str("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(hcl_str("${x} %{y} $z"), "\"$${x} %%{y} $z\"");
        assert_eq!(hcl_str("a\nb\x1b"), "\"a\\nb\\u001b\"");
    }
}
