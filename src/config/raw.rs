//! The file as written: serde mirrors of every table, `deny_unknown_fields` everywhere,
//! every value wrapped in [`Spanned`] so that it keeps its byte range for errors.
//! Required keys are `Option`s here, so that a missing one is reported by validation, at
//! its table, in our words. Tables are not `Spanned`: see [`super::position`].
//!
//! Under test the structs also serialize, so that a test can list every key a file
//! leaves unset (`None` becomes `null`).

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub(super) console: Option<RawConsole>,
    pub(super) anycast: Option<RawAnycast>,
    pub(super) probe: Option<RawProbe>,
    pub(super) metro: Option<Vec<RawMetro>>,
    pub(super) provision: Option<RawProvision>,
    pub(super) deploy: Option<RawDeploy>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub(super) struct RawConsole {
    pub(super) read_only: Option<Spanned<bool>>,
    pub(super) refresh_ms: Option<Spanned<i64>>,
    pub(super) state_dir: Option<Spanned<String>>,
    pub(super) lock_wait_ms: Option<Spanned<i64>>,
    pub(super) ssh_config: Option<Spanned<String>>,
    pub(super) keys: Option<RawKeys>,
    pub(super) theme: Option<RawTheme>,
}

/// `[console.keys]`: action name -> key specs. A map, not a struct, so that an unknown
/// action gets its own message.
pub(super) type RawKeys = BTreeMap<Spanned<String>, Spanned<Vec<Spanned<String>>>>;
/// `[console.theme]`: slot name -> colour.
pub(super) type RawTheme = BTreeMap<Spanned<String>, Spanned<String>>;

#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub(super) struct RawAnycast {
    pub(super) prefix: Option<Spanned<String>>,
    pub(super) url: Option<Spanned<String>>,
    pub(super) observer: Option<RawObserver>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub(super) struct RawObserver {
    pub(super) bird_socket: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub(super) struct RawProbe {
    pub(super) interval_ms: Option<Spanned<i64>>,
    pub(super) timeout_ms: Option<Spanned<i64>>,
    pub(super) method: Option<Spanned<String>>,
    pub(super) keep_alive: Option<Spanned<bool>>,
    pub(super) window: Option<Spanned<i64>>,
    pub(super) served_by_header: Option<Spanned<String>>,
    pub(super) status_probes: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetro {
    pub(super) name: Option<Spanned<String>>,
    pub(super) display_name: Option<Spanned<String>>,
    pub(super) ssh: Option<Spanned<String>>,
    pub(super) ssh_options: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) bird_socket: Option<Spanned<String>>,
    pub(super) origin_protocols: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) export_protocol: Option<Spanned<String>>,
    pub(super) observer_protocol: Option<Spanned<String>>,
    pub(super) withdraw: Option<RawWithdraw>,
    pub(super) address: Option<Spanned<String>>,
    pub(super) nomad: Option<RawNomad>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub(super) struct RawWithdraw {
    pub(super) method: Option<Spanned<String>>,
    pub(super) withdraw: Option<Spanned<String>>,
    pub(super) restore: Option<Spanned<String>>,
    pub(super) timeout_ms: Option<Spanned<i64>>,
    pub(super) pass_env: Option<Spanned<Vec<Spanned<String>>>>,
}

/// `[metro.nomad]`. There is deliberately no `token`: an unknown-key error for it is
/// reworded by [`Cx::toml_error`] to point at `token_env`, without the value.
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub(super) struct RawNomad {
    pub(super) address: Option<Spanned<String>>,
    pub(super) token_env: Option<Spanned<String>>,
    pub(super) region: Option<Spanned<String>>,
    pub(super) namespace: Option<Spanned<String>>,
    pub(super) ca_cert: Option<Spanned<String>>,
    pub(super) tls_server_name: Option<Spanned<String>>,
    pub(super) skip_verify: Option<Spanned<bool>>,
    pub(super) timeout_ms: Option<Spanned<i64>>,
    pub(super) max_body_mb: Option<Spanned<i64>>,
}

/// `[provision]`: the installer and how terraform/tofu runs it.
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub(super) struct RawProvision {
    pub(super) binary: Option<Spanned<String>>,
    pub(super) dir: Option<Spanned<String>>,
    pub(super) var_files: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) lock_timeout_ms: Option<Spanned<i64>>,
    pub(super) pass_env: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) vars: Option<RawVars>,
    pub(super) outputs: Option<RawOutputs>,
}

/// `[provision.vars]`: variable name -> any TOML value.
pub(super) type RawVars = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// `[provision.outputs]`: which installer outputs the console reads.
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutputs {
    pub(super) regional: Option<Spanned<String>>,
    pub(super) anycast: Option<Spanned<String>>,
}

/// `[deploy]`: how an app is built, published and rolled out to every metro.
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub(super) struct RawDeploy {
    pub(super) job: Option<Spanned<String>>,
    pub(super) build: Option<Spanned<String>>,
    pub(super) publish: Option<Spanned<String>>,
    pub(super) command_timeout_ms: Option<Spanned<i64>>,
    pub(super) pass_env: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) job_template: Option<Spanned<String>>,
    pub(super) driver: Option<Spanned<String>>,
    pub(super) spin: Option<Spanned<String>>,
    pub(super) count: Option<Spanned<i64>>,
    pub(super) order: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) drain_ms: Option<Spanned<i64>>,
    pub(super) verify_header: Option<Spanned<String>>,
    pub(super) verify_deadline_ms: Option<Spanned<i64>>,
    pub(super) update: Option<RawUpdate>,
}

/// `[deploy.update]`: the job's `update` block.
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub(super) struct RawUpdate {
    pub(super) max_parallel: Option<Spanned<i64>>,
    pub(super) min_healthy_time_ms: Option<Spanned<i64>>,
    pub(super) healthy_deadline_ms: Option<Spanned<i64>>,
    pub(super) progress_deadline_ms: Option<Spanned<i64>>,
    pub(super) auto_revert: Option<Spanned<bool>>,
}
