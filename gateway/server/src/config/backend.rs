//! What a route knows of its backend beyond the address: how it takes
//! updates, which group members a translated write may remove, how fast it
//! may be called, and its profile (`notion`, `aws`).

use super::file::{NotionSection, UpstreamSection};
use super::{MemberRemoval, NotionSettings, PaceSettings, Profile, RateLimit, UpdateMode};
use scim_mapper::{Sink, did_you_mean};
use std::time::Duration;
use toml::Spanned;

/// `update = "as-sent" | "patch" | "put"`.
pub(super) fn update_mode(value: Option<&Spanned<String>>, sink: &mut Sink<'_>) -> UpdateMode {
    let options = [("as-sent", UpdateMode::AsSent), ("patch", UpdateMode::Patch), ("put", UpdateMode::Put)];
    choice(value, "update", &options, sink)
}

/// `member_removal = "provisioned" | "any"`.
pub(super) fn member_removal(value: Option<&Spanned<String>>, sink: &mut Sink<'_>) -> MemberRemoval {
    let options = [("provisioned", MemberRemoval::Provisioned), ("any", MemberRemoval::Any)];
    choice(value, "member_removal", &options, sink)
}

/// One of a fixed set of words; unset is the default.
fn choice<T: Copy + Default>(
    value: Option<&Spanned<String>>,
    key: &str,
    options: &[(&str, T)],
    sink: &mut Sink<'_>,
) -> T {
    let Some(v) = value else { return T::default() };
    if let Some((_, t)) = options.iter().find(|(word, _)| *word == v.get_ref()) {
        return *t;
    }
    let words: Vec<String> = options.iter().map(|(w, _)| format!("\"{w}\"")).collect();
    let hint = did_you_mean(v.get_ref(), options.iter().map(|(w, _)| *w))
        .or_else(|| Some(format!("use one of {}", words.join(", "))));
    sink.error(v.span().start, format!("unknown {key} `{}`", v.get_ref()), hint);
    T::default()
}

/// Retries on 429/529 and the optional `[upstream.rate_limit]`.
pub(super) fn pace(u: &UpstreamSection, sink: &mut Sink<'_>) -> PaceSettings {
    let busy_retries = bounded(u.busy_retries.as_ref(), 2, 0, 10, "busy_retries", sink);
    let budget = bounded(u.busy_budget_ms.as_ref(), 10_000, 0, 600_000, "busy_budget_ms", sink);
    let rate_limit = u.rate_limit.as_ref().map(|r| RateLimit {
        per_second: u32::try_from(bounded(Some(&r.per_second), 1, 1, 100_000, "per_second", sink)).unwrap_or(1),
        burst: u32::try_from(bounded(r.burst.as_ref(), 1, 1, 100_000, "burst", sink)).unwrap_or(1),
        queue: usize::try_from(bounded(r.queue.as_ref(), 100, 0, 100_000, "queue", sink)).unwrap_or(100),
        max_wait: Duration::from_millis(bounded(r.max_wait_ms.as_ref(), 10_000, 0, 600_000, "max_wait_ms", sink)),
    });
    PaceSettings {
        rate_limit,
        busy_retries: u32::try_from(busy_retries).unwrap_or(2),
        busy_budget: Duration::from_millis(budget),
    }
}

fn bounded(v: Option<&Spanned<u64>>, default: u64, min: u64, max: u64, what: &str, sink: &mut Sink<'_>) -> u64 {
    let Some(v) = v else { return default };
    let n = *v.get_ref();
    if !(min..=max).contains(&n) {
        sink.error(v.span().start, format!("{what} must be between {min} and {max}"), None);
    }
    n.clamp(min, max)
}

/// Notion's workspace roles, the values its role extension takes.
pub const NOTION_ROLES: [&str; 4] = ["owner", "membership_admin", "member", "restricted_member"];

/// `profile = "<name>"` (one of the registered profiles, `generic` when
/// unset), with `[upstream.notion]` for `notion`.
pub(super) fn profile(u: &UpstreamSection, sink: &mut Sink<'_>) -> Profile {
    let words: Vec<(&str, &'static str)> = crate::pipeline::profile::names().map(|n| (n, n)).collect();
    let name = match choice(u.profile.as_ref(), "profile", &words, sink) {
        "" => "generic",
        name => name,
    };
    if u.notion.is_some() && name != "notion" {
        let hint = Some("set profile = \"notion\", or remove [upstream.notion]".into());
        let at = u.profile.as_ref().map_or(u.url.span().start, |p| p.span().start);
        sink.error(at, "[upstream.notion] is set but the profile is not \"notion\"", hint);
    }
    let notion = (name == "notion").then(|| notion_settings(u.notion.as_ref(), sink));
    Profile { name, notion }
}

fn notion_settings(n: Option<&NotionSection>, sink: &mut Sink<'_>) -> NotionSettings {
    let Some(n) = n else { return NotionSettings::default() };
    let mut roles = Vec::new();
    for (idp, role) in &n.roles {
        let r = role.get_ref();
        if !NOTION_ROLES.contains(&r.as_str()) {
            let hint = Some(format!("use one of {}", NOTION_ROLES.join(", ")));
            sink.error(role.span().start, format!("`{r}` is not a Notion role"), hint);
        } else if r == "owner" && !n.allow_owner {
            let hint = Some("granting workspace owner needs allow_owner = true in [upstream.notion]".into());
            sink.error(role.span().start, format!("role `{idp}` maps to owner"), hint);
        }
        roles.push((idp.clone(), r.clone()));
    }
    let cache = bounded(n.manager_cache_ms.as_ref(), 60_000, 0, 3_600_000, "manager_cache_ms", sink);
    NotionSettings { roles, allow_owner: n.allow_owner, manager_cache: Duration::from_millis(cache) }
}
