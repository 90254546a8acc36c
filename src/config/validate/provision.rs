//! The `[provision]` table into a [`Provision`]: the terraform/tofu directory, binary,
//! variables and the outputs it reads back. Answers "why was my provisioning config
//! refused?".

use std::path::PathBuf;

use super::{Cx, Res};
use crate::config::raw::*;
use crate::config::values::*;
use crate::config::*;

impl Cx<'_> {
    pub(super) fn provision(&self, raw: RawProvision) -> Res<Provision> {
        let Some(dir) = raw.dir else {
            return Err(self.missing("provision", "dir"));
        };
        let dir = self.resolve(self.non_empty(&dir, "provision.dir")?);
        let binary = match raw.binary {
            Some(b) => {
                let text = self.non_empty(&b, "provision.binary")?;
                // A bare name is looked up on PATH when it runs; a path is the config's.
                Some(if text.contains('/') {
                    self.resolve(text)
                } else {
                    PathBuf::from(text)
                })
            }
            None => None,
        };
        let mut var_files = Vec::new();
        for f in raw.var_files.iter().flat_map(|l| l.get_ref()) {
            var_files.push(self.resolve(self.non_empty(f, "provision.var_files")?));
        }
        let lock_timeout = raw
            .lock_timeout_ms
            .map(|ms| {
                self.millis(
                    &ms,
                    "provision.lock_timeout_ms",
                    &PROVISION_LOCK_TIMEOUT_MS_RANGE,
                )
            })
            .transpose()?;
        let mut pass_env = Vec::new();
        for name in raw.pass_env.iter().flat_map(|l| l.get_ref()) {
            check_plain_env_name(name.get_ref())
                .map_err(|m| self.err(name, "provision.pass_env", m))?;
            pass_env.push(name.get_ref().clone());
        }
        let mut vars: Vec<_> = raw.vars.unwrap_or_default().into_iter().collect();
        vars.sort_by_key(|(k, _)| k.span().start);
        let mut out = Vec::new();
        for (name, v) in vars {
            let key = format!("provision.vars.{}", name.get_ref());
            check_variable_name(name.get_ref())
                .map_err(|m| self.err(&name, "provision.vars", m))?;
            let text = variable_value(v.get_ref()).map_err(|m| self.err(&v, &key, m))?;
            out.push((name.into_inner(), text));
        }
        let (mut regional_output, mut anycast_output) = (
            DEFAULT_REGIONAL_OUTPUT.to_string(),
            DEFAULT_ANYCAST_OUTPUT.to_string(),
        );
        if let Some(o) = raw.outputs {
            if let Some(r) = o.regional {
                check_variable_name(r.get_ref())
                    .map_err(|m| self.err(&r, "provision.outputs.regional", m))?;
                regional_output = r.into_inner();
            }
            if let Some(a) = o.anycast {
                check_variable_name(a.get_ref())
                    .map_err(|m| self.err(&a, "provision.outputs.anycast", m))?;
                anycast_output = a.into_inner();
            }
        }
        Ok(Provision {
            binary,
            dir,
            vars: out,
            var_files,
            lock_timeout,
            pass_env,
            regional_output,
            anycast_output,
        })
    }
}
