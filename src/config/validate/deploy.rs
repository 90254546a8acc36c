//! The `[deploy]` table into a [`Deploy`]: the job, its template and driver, the build
//! and publish commands, the metro order (checked against the metros already read), the
//! drain, the update block's deadlines and the verify settings. Answers "why was my
//! deployment config refused?".

use super::{Cx, Res};
use crate::config::raw::*;
use crate::config::values::*;
use crate::config::*;

impl Cx<'_> {
    pub(super) fn deploy(
        &self,
        raw: RawDeploy,
        metros: &[Metro],
        token_envs: &[String],
    ) -> Res<Deploy> {
        let mut d = Deploy::default();
        if let Some(job) = raw.job {
            let j = self.non_empty(&job, "deploy.job")?;
            if j.len() > 128 || j.chars().any(char::is_whitespace) {
                return Err(self.err(
                    &job,
                    "deploy.job",
                    "a Nomad job ID: up to 128 characters, no whitespace",
                ));
            }
            d.job = Some(j.to_string());
        }
        if let Some(b) = raw.build {
            d.build = Some(self.non_empty(&b, "deploy.build")?.to_string());
        }
        if let Some(p) = raw.publish {
            d.publish = Some(self.non_empty(&p, "deploy.publish")?.to_string());
        }
        if let Some(ms) = raw.command_timeout_ms {
            d.command_timeout =
                self.millis(&ms, "deploy.command_timeout_ms", &COMMAND_TIMEOUT_MS_RANGE)?;
        }
        for name in raw.pass_env.iter().flat_map(|l| l.get_ref()) {
            let n = name.get_ref();
            check_plain_env_name(n).map_err(|m| self.err(name, "deploy.pass_env", m))?;
            if token_envs.iter().any(|t| t == n) {
                return Err(self.err(
                    name,
                    "deploy.pass_env",
                    format!("`{n}` holds a Nomad token: commands never get Nomad tokens"),
                ));
            }
            d.pass_env.push(n.clone());
        }
        if let Some(t) = raw.job_template {
            d.job_template = Some(self.resolve(self.non_empty(&t, "deploy.job_template")?));
        }
        if let Some(drv) = raw.driver {
            let v = self.non_empty(&drv, "deploy.driver")?;
            if !v
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(self.err(
                    &drv,
                    "deploy.driver",
                    format!("`{v}` is not a task driver name, e.g. exec or raw_exec"),
                ));
            }
            d.driver = v.to_string();
        }
        if let Some(spin) = raw.spin {
            d.spin = self.non_empty(&spin, "deploy.spin")?.to_string();
        }
        if let Some(c) = raw.count {
            let n = self.int_in(&c, "deploy.count", &DEPLOY_COUNT_RANGE, "allocations")?;
            d.count = u32::try_from(n).unwrap_or(1);
        }
        if let Some(list) = raw.order {
            let mut order: Vec<String> = Vec::new();
            for m in list.get_ref() {
                let name = m.get_ref();
                if !metros.iter().any(|x| &x.name == name) {
                    let known: Vec<&str> = metros.iter().map(|x| x.name.as_str()).collect();
                    return Err(self.err(
                        m,
                        "deploy.order",
                        format!(
                            "no metro `{}` in this file (known: {})",
                            crate::domain::text::visible(name),
                            known.join(", ")
                        ),
                    ));
                }
                if order.contains(name) {
                    return Err(self.err(m, "deploy.order", format!("`{name}` is listed twice")));
                }
                order.push(name.clone());
            }
            d.order = Some(order);
        }
        if let Some(ms) = raw.drain_ms {
            d.drain = self.millis(&ms, "deploy.drain_ms", &DRAIN_MS_RANGE)?;
        }
        if let Some(h) = raw.verify_header {
            check_header_name(h.get_ref()).map_err(|m| self.err(&h, "deploy.verify_header", m))?;
            d.verify_header = Some(h.get_ref().to_ascii_lowercase());
        }
        if let Some(ms) = raw.verify_deadline_ms {
            d.verify_deadline =
                self.millis(&ms, "deploy.verify_deadline_ms", &VERIFY_DEADLINE_MS_RANGE)?;
        }
        if let Some(u) = raw.update {
            let key = |k: &str| format!("deploy.update.{k}");
            if let Some(n) = &u.max_parallel {
                let v = self.int_in(n, &key("max_parallel"), &MAX_PARALLEL_RANGE, "")?;
                d.update.max_parallel = u32::try_from(v).unwrap_or(1);
            }
            if let Some(ms) = &u.min_healthy_time_ms {
                d.update.min_healthy_time =
                    self.millis(ms, &key("min_healthy_time_ms"), &UPDATE_MS_RANGE)?;
            }
            if let Some(ms) = &u.healthy_deadline_ms {
                d.update.healthy_deadline =
                    self.millis(ms, &key("healthy_deadline_ms"), &UPDATE_MS_RANGE)?;
            }
            if let Some(ms) = &u.progress_deadline_ms {
                d.update.progress_deadline =
                    self.millis(ms, &key("progress_deadline_ms"), &UPDATE_MS_RANGE)?;
            }
            if let Some(a) = &u.auto_revert {
                d.update.auto_revert = *a.get_ref();
            }
            // Nomad's own rules for the block, said here rather than at the first register.
            let up = d.update;
            if up.healthy_deadline <= up.min_healthy_time {
                let at = u
                    .healthy_deadline_ms
                    .as_ref()
                    .or(u.min_healthy_time_ms.as_ref())
                    .map_or(0, |s| s.span().start);
                return Err(self.err_at(
                    at,
                    Some(&key("healthy_deadline_ms")),
                    "must be longer than min_healthy_time_ms (Nomad refuses the job otherwise)",
                ));
            }
            if !up.progress_deadline.is_zero() && up.progress_deadline <= up.healthy_deadline {
                let at = u
                    .progress_deadline_ms
                    .as_ref()
                    .or(u.healthy_deadline_ms.as_ref())
                    .map_or(0, |s| s.span().start);
                return Err(self.err_at(
                    at,
                    Some(&key("progress_deadline_ms")),
                    "must be longer than healthy_deadline_ms, or 0 (Nomad refuses the job otherwise)",
                ));
            }
        }
        Ok(d)
    }
}
