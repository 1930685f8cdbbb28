use super::*;
use std::path::Path;

fn check(text: &str) -> Result<Config, Vec<String>> {
    let (config, diags) = validate::validate("gw.toml", text, Path::new("/etc/gw"), &Overrides::default());
    let errors: Vec<String> = diags.iter().filter(|d| d.severity == Severity::Error).map(ToString::to_string).collect();
    match config {
        Some(c) if errors.is_empty() => Ok(c),
        _ => Err(errors),
    }
}

const MINIMAL: &str = "[server.auth]\ntokens_env = \"T\"\n[upstream]\nurl = \"memory:\"\n";

#[test]
fn the_minimal_config_gets_documented_defaults() {
    let c = check(MINIMAL).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.admin_listen.map(|a| a.to_string()).as_deref(), Some("127.0.0.1:9090"));
    assert_eq!(c.limits.max_body_bytes, 1 << 20);
    assert_eq!(c.limits.max_json_depth, 64);
    assert_eq!(c.routes.len(), 1);
    let r = &c.routes[0];
    assert_eq!((r.name.as_str(), r.base_path.as_str()), ("default", "/scim/v2"));
    assert_eq!(r.upstream.target, UpstreamTarget::Memory);
    assert_eq!(r.upstream.timeout, Duration::from_secs(10));
    assert_eq!(r.mapping.preset, Preset::Generic);
    assert!(c.log.redact_pii);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    assert_eq!(c.workers, cores);
}

#[test]
fn json_depth_is_bounded_by_what_the_parser_takes() {
    let c = check(&format!("[server.limits]\nmax_json_depth = 127\n{MINIMAL}")).unwrap();
    assert_eq!(c.limits.max_json_depth, 127);
    let errors = check(&format!("[server.limits]\nmax_json_depth = 128\n{MINIMAL}")).unwrap_err();
    assert!(
        errors.iter().any(|e| e.contains("gw.toml:2:18") && e.contains("max_json_depth must be between 1 and 127")),
        "{errors:?}"
    );
}

#[test]
fn workers_are_bounded() {
    let c = check(&format!("[server]\nworkers = 3\n{MINIMAL}")).unwrap();
    assert_eq!(c.workers, 3);
    for bad in ["0", "257"] {
        let errors = check(&format!("[server]\nworkers = {bad}\n{MINIMAL}")).unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains("gw.toml:2:11") && e.contains("workers must be between 1 and 256")),
            "{errors:?}"
        );
    }
}

#[test]
fn every_problem_is_reported_with_its_position() {
    let text = "[admin]\nlisten = \"nowhere\"\n[server]\nbase_pth = \"/x\"\n[upstream]\nurl = \"ftp://x\"\ntoken_env = \"bad name\"\n[mapping]\npreset = \"okat\"\n[logs]\n";
    let errors = check(text).unwrap_err();
    let joined = errors.join("\n");
    assert!(joined.contains("gw.toml:4:1: error: unknown field `base_pth`"), "{joined}");
    assert!(joined.contains("gw.toml:10:2: error: unknown section `logs`"), "{joined}");
    assert!(joined.contains("did you mean `log`?"), "{joined}");
    let listen = errors.iter().find(|e| e.contains("nowhere")).expect("listen reported");
    assert!(listen.starts_with("gw.toml:2:10:"), "{listen}");
    assert!(joined.contains("did you mean `okta`?"), "{joined}");
    assert!(joined.contains("`ftp://x` is not an http(s) URL"), "{joined}");
    assert!(joined.contains("`bad name` is not an environment variable name"), "{joined}");
}

#[test]
fn a_route_needs_tokens_and_an_upstream() {
    let errors = check("[server]\nbase_path = \"/scim/v2\"\n").unwrap_err().join("\n");
    assert!(errors.contains("has no inbound tokens"), "{errors}");
    assert!(errors.contains("has no upstream"), "{errors}");
}

#[test]
fn routes_inherit_top_level_tables_and_must_be_distinct() {
    let text = format!(
        "{MINIMAL}[[route]]\nname = \"okta\"\nbase_path = \"/okta\"\nmapping = {{ preset = \"okta\" }}\n\
         [[route]]\nname = \"okta\"\nbase_path = \"/okta/\"\n"
    );
    let errors = check(&text).unwrap_err().join("\n");
    assert!(errors.contains("a second route named `okta`"), "{errors}");
    assert!(errors.contains("two routes have the same base_path"), "{errors}");
    let ok =
        format!("{MINIMAL}[[route]]\nname = \"a\"\nbase_path = \"/a\"\n[[route]]\nname = \"b\"\nbase_path = \"/b\"\n");
    let c = check(&ok).unwrap();
    assert_eq!(c.routes.len(), 2);
    assert!(
        c.routes
            .iter()
            .all(|r| r.upstream.target == UpstreamTarget::Memory && r.auth.tokens_env.as_deref() == Some("T"))
    );
    let mixed = format!("{MINIMAL}[server]\nbase_path = \"/x\"\n[[route]]\nname = \"a\"\nbase_path = \"/a\"\n");
    assert!(check(&mixed).unwrap_err().join("\n").contains("belongs in each [[route]]"));
}

#[test]
fn base_paths_are_strict() {
    assert_eq!(BasePath::parse("/scim/v2/").unwrap().as_str(), "/scim/v2");
    assert_eq!(BasePath::parse("/").unwrap().as_str(), "");
    for bad in ["scim", "/a//b", "/a/../b", "/a/%2e", "/a b"] {
        assert!(BasePath::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn paths_resolve_against_the_config_dir_and_flags_override() {
    let text = format!("{MINIMAL}[mapping]\nfiles = [\"m.toml\", \"/abs/n.toml\"]\n");
    let c = check(&text).unwrap();
    assert_eq!(c.routes[0].mapping.files, [PathBuf::from("/etc/gw/m.toml"), PathBuf::from("/abs/n.toml")]);
    let ov = Overrides {
        listen: "127.0.0.1:1".parse().ok(),
        admin_listen: None,
        upstream: Some("http://up:8000/v2/".into()),
    };
    let (c, _) = validate::validate("gw.toml", MINIMAL, Path::new("."), &ov);
    let c = c.unwrap();
    assert_eq!(c.listen.port(), 1);
    assert_eq!(c.routes[0].upstream.target, UpstreamTarget::Http("http://up:8000/v2".parse().unwrap()));
}

#[test]
fn trusted_proxy_ranges_match_by_prefix() {
    let c = check(&format!("[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n{MINIMAL}")).unwrap();
    assert!(c.trusted_proxies[0].contains("10.2.3.4".parse().unwrap()));
    assert!(!c.trusted_proxies[0].contains("11.0.0.1".parse().unwrap()));
    assert!(c.trusted_proxies[1].contains("::1".parse().unwrap()));
    assert!(check(&format!("[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n{MINIMAL}")).is_err());
}

const PLUGIN: &str = "[[mapping.plugins]]\nname = \"full-name\"\npath = \"plugins/full-name.wasm\"\n";

#[test]
fn plugins_get_documented_defaults() {
    let c = check(&format!("{MINIMAL}{PLUGIN}")).unwrap();
    let p = &c.routes[0].mapping.plugins[0];
    assert_eq!(p.path, Path::new("/etc/gw/plugins/full-name.wasm"), "relative to the config's directory");
    assert_eq!(p.resources, ["User", "Group"]);
    assert_eq!((p.request, p.response, p.position, p.fail_open), (true, false, Position::After, false));
    assert_eq!(p.limits, scim_plugin_host::Limits::default());
    assert_eq!(p.limits.memory_bytes, 32 << 20);
    assert_eq!(p.config, serde_json::json!({}));
    assert_eq!(c.plugin_host.max_memory_bytes, 64 << 20);
    assert_eq!(c.plugin_host.cache_dir, None);
}

#[test]
fn a_plugin_is_configured_in_full() {
    let text = format!(
        "{MINIMAL}{PLUGIN}sha256 = \"{}\"\nresources = [\"Group\"]\ndirections = [\"request\", \"response\"]\nposition = \"before\"\non_failure = \"open\"\n[mapping.plugins.limits]\nmemory_bytes = 1048576\nfuel = 5000\ntimeout_ms = 20\noutput_bytes = 4096\n[mapping.plugins.breaker]\nfailures = 3\ncooldown_ms = 1000\n[mapping.plugins.config]\nformat = \"{{family}}\"\nallowed = [\"a.example\"]\n[plugin_host]\nmax_memory_bytes = 33554432\nmax_concurrent = 3\ncache_dir = \"cache\"\n",
        "AB".repeat(32)
    );
    let c = check(&text).unwrap();
    let p = &c.routes[0].mapping.plugins[0];
    assert_eq!(p.sha256.as_deref(), Some("ab".repeat(32).as_str()));
    assert_eq!(p.resources, ["Group"]);
    assert_eq!((p.request, p.response, p.position, p.fail_open), (true, true, Position::Before, true));
    assert_eq!((p.limits.memory_bytes, p.limits.fuel, p.limits.output_bytes), (1 << 20, 5000, 4096));
    assert_eq!(p.limits.timeout, Duration::from_millis(20));
    assert_eq!((p.breaker.failures, p.breaker.cooldown), (3, Duration::from_secs(1)));
    assert_eq!(p.config, serde_json::json!({"format": "{family}", "allowed": ["a.example"]}));
    assert_eq!((c.plugin_host.max_memory_bytes, c.plugin_host.max_concurrent), (32 << 20, 3));
    assert_eq!(c.plugin_host.cache_dir.as_deref(), Some(Path::new("/etc/gw/cache")));
}

#[test]
fn plugin_mistakes_are_all_reported_with_positions() {
    let text = format!(
        "{MINIMAL}{PLUGIN}sha256 = \"abc\"\nresources = [\"Users\"]\ndirections = [\"sideways\"]\nposition = \"middle\"\non_failure = \"ajar\"\n[mapping.plugins.limits]\ntimeout_ms = 0\n"
    );
    let errors = check(&text).unwrap_err();
    let expect = [
        "gw.toml:8:10: error: sha256 must be 64 hex digits",
        "gw.toml:9:14: error: unknown resource type `Users`",
        "gw.toml:10:15: error: unknown direction `sideways`",
        "gw.toml:11:12: error: unknown position `middle`",
        "gw.toml:12:14: error: unknown on_failure `ajar`",
        "gw.toml:14:14: error: timeout_ms must be between 1 and 60000",
    ];
    for e in expect {
        assert!(errors.iter().any(|x| x.contains(e)), "{e} missing from {errors:#?}");
    }
    let errors = check(&format!("{MINIMAL}{PLUGIN}colour = 1\n")).unwrap_err();
    assert!(errors.iter().any(|e| e.contains("gw.toml:8:1: error: unknown field `colour`")), "{errors:?}");
}

#[test]
fn plugin_names_are_unique_labels() {
    let errors = check(&format!("{MINIMAL}{PLUGIN}{PLUGIN}")).unwrap_err();
    assert!(errors.iter().any(|e| e.contains("a second plugin named `full-name`")), "{errors:?}");
    let errors = check(&format!("{MINIMAL}{}", PLUGIN.replace("full-name\"", "full name\""))).unwrap_err();
    assert!(errors.iter().any(|e| e.contains("is not a plugin name")), "{errors:?}");
}

#[test]
fn backend_keys_default_to_a_plain_scim_server() {
    let u = &check(MINIMAL).unwrap().routes[0].upstream;
    assert_eq!(
        (u.update, u.member_removal, &u.profile),
        (UpdateMode::AsSent, MemberRemoval::Provisioned, &Profile::default())
    );
    assert_eq!(u.pace, PaceSettings { rate_limit: None, busy_retries: 2, busy_budget: Duration::from_secs(10) });
}

#[test]
fn update_rate_limit_and_the_notion_profile_are_read_and_checked() {
    let text = format!(
        "{MINIMAL}update = \"patch\"\nmember_removal = \"any\"\nprofile = \"notion\"\n[upstream.rate_limit]\nper_second = 3\nburst = 10\n[upstream.notion]\nroles = {{ Admin = \"membership_admin\" }}\n"
    );
    let u = check(&text).unwrap().routes[0].upstream.clone();
    assert_eq!((u.update, u.member_removal), (UpdateMode::Patch, MemberRemoval::Any));
    let limit = u.pace.rate_limit.unwrap();
    assert_eq!((limit.per_second, limit.burst, limit.queue, limit.max_wait), (3, 10, 100, Duration::from_secs(10)));
    assert_eq!(u.profile.name, "notion");
    let n = u.profile.notion.expect("notion settings");
    assert_eq!(n.roles, [("Admin".to_owned(), "membership_admin".to_owned())]);
    assert!(!n.allow_owner);
}

#[test]
fn bad_backend_keys_are_all_reported() {
    let text = format!(
        "{MINIMAL}update = \"merge\"\nmember_removal = \"some\"\nprofile = \"slack\"\nbusy_retries = 11\n[upstream.rate_limit]\nper_second = 0\n[upstream.notion]\nroles = {{ Boss = \"owner\", X = \"admin\" }}\n"
    );
    let joined = check(&text).unwrap_err().join("\n");
    for needle in [
        "gw.toml:5:10: error: unknown update `merge` (hint: use one of \"as-sent\", \"patch\", \"put\")",
        "unknown member_removal `some`",
        "unknown profile `slack`",
        "busy_retries must be between 0 and 10",
        "per_second must be between 1 and 100000",
        "[upstream.notion] is set but the profile is not \"notion\"",
    ] {
        assert!(joined.contains(needle), "{needle}\n{joined}");
    }
    let text =
        format!("{MINIMAL}profile = \"notion\"\n[upstream.notion]\nroles = {{ Boss = \"owner\", X = \"admin\" }}\n");
    let joined = check(&text).unwrap_err().join("\n");
    assert!(
        joined.contains("role `Boss` maps to owner (hint: granting workspace owner needs allow_owner = true"),
        "{joined}"
    );
    assert!(joined.contains("`admin` is not a Notion role"), "{joined}");
    let text = format!(
        "{MINIMAL}profile = \"notion\"\n[upstream.notion]\nallow_owner = true\nroles = {{ Boss = \"owner\" }}\n"
    );
    assert!(check(&text).is_ok(), "owner is allowed when the config says so");
}

#[test]
fn a_misspelt_choice_gets_a_did_you_mean() {
    let typo = check(&format!("{MINIMAL}update = \"pach\"\nprofile = \"notoin\"\n")).unwrap_err().join("\n");
    assert!(typo.contains("unknown update `pach` (hint: did you mean `patch`?)"), "{typo}");
    assert!(typo.contains("unknown profile `notoin` (hint: did you mean `notion`?)"), "{typo}");
}

#[test]
fn problems_are_reported_in_the_files_order() {
    // The rate limit is checked before the notion table, but comes later in the file.
    let text = format!(
        "{MINIMAL}profile = \"notion\"\n[upstream.notion]\nroles = {{ Boss = \"owner\" }}\n[upstream.rate_limit]\nper_second = 0\n[server]\nworkers = 0\n"
    );
    let errors = check(&text).unwrap_err();
    assert!(errors.len() >= 3, "{errors:?}");
    let lines: Vec<usize> = errors.iter().map(|e| e.split(':').nth(1).unwrap().parse().unwrap()).collect();
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(lines, sorted, "{errors:?}");
}

#[test]
fn the_audit_trail_defaults_to_sqlite_beside_the_config_and_is_read_in_full() {
    let c = check(&format!("{MINIMAL}[audit]\n")).unwrap();
    let a = c.audit.unwrap();
    assert_eq!(a.url, crate::audit::StoreUrl::Sqlite("/etc/gw/scim-gateway-audit.db".into()));
    assert_eq!(
        (a.values, a.on_failure, a.queue),
        (crate::audit::Values::Paths, crate::audit::OnFailure::Block, 10_000)
    );
    assert_eq!(a.max_age, Duration::from_secs(90 * 86_400));
    assert!(check(MINIMAL).unwrap().audit.is_none(), "no [audit]: no trail");
    let text = format!(
        "[admin]\ntokens_file = \"admin\"\n[server]\nmode = \"shadow\"\n{MINIMAL}[audit]\nurl = \"postgres://gw@db:5432/scim\"\npassword_env = \"PGPW\"\nvalues = \"full\"\non_failure = \"drop\"\nretention_days = 7\n"
    );
    let c = check(&text).unwrap();
    let a = c.audit.unwrap();
    assert_eq!(a.url, crate::audit::StoreUrl::Postgres("postgres://gw@db:5432/scim".into()));
    assert_eq!(a.password, Some(crate::audit::Secret::Env("PGPW".into())));
    assert_eq!((a.values, a.on_failure), (crate::audit::Values::Full, crate::audit::OnFailure::Drop));
    assert_eq!(c.admin_tokens.unwrap().tokens_file.unwrap(), Path::new("/etc/gw/admin"));
    assert_eq!(c.routes[0].mode, RouteMode::Shadow);
}

#[test]
fn audit_mistakes_are_all_reported_and_a_password_never_goes_in_the_url() {
    let text = format!(
        "{MINIMAL}[audit]\nurl = \"postgres://gw:hunter2@db/scim\"\nvalues = \"some\"\non_failure = \"wait\"\nqueue = 0\n"
    );
    let joined = check(&text).unwrap_err().join("\n");
    assert!(joined.contains("gw.toml:6:7") && joined.contains("holds a password"), "{joined}");
    assert!(!joined.contains("hunter2"), "the password is not echoed: {joined}");
    assert!(joined.contains("unknown values policy `some`"), "{joined}");
    assert!(joined.contains("unknown on_failure `wait`"), "{joined}");
    assert!(joined.contains("gw.toml:9:9") && joined.contains("queue must be between 1"), "{joined}");
    let unknown = check(&format!("{MINIMAL}[audit]\ncolour = 1\n")).unwrap_err().join("\n");
    assert!(unknown.contains("unknown field `colour`"), "{unknown}");
    let mode = check(&format!("[server]\nmode = \"dry\"\n{MINIMAL}")).unwrap_err().join("\n");
    assert!(mode.contains("gw.toml:2:8") && mode.contains("unknown mode `dry`"), "{mode}");
    let sqlite_pw = check(&format!("{MINIMAL}[audit]\npassword_env = \"X\"\n")).unwrap_err().join("\n");
    assert!(sqlite_pw.contains("only for a PostgreSQL store"), "{sqlite_pw}");
    let ftp = check(&format!("{MINIMAL}[audit]\nurl = \"ftp://x\"\n")).unwrap_err().join("\n");
    assert!(ftp.contains("is not an audit store URL"), "{ftp}");
}

#[test]
fn the_cluster_is_read_checked_and_names_the_replica_of_the_audit_trail() {
    let text = format!(
        "{MINIMAL}on_cluster_error = \"local\"\n[cluster]\nredis_url = \"rediss://redis:6379/0\"\npassword_file = \"redis-pw\"\nreplica_name = \"gw-2\"\n[audit]\n"
    );
    let c = check(&text).unwrap();
    let cluster = c.cluster.unwrap();
    assert_eq!((cluster.url.as_str(), cluster.replica.as_str()), ("rediss://redis:6379/0", "gw-2"));
    assert_eq!(cluster.password, Some(crate::audit::Secret::File("/etc/gw/redis-pw".into())));
    assert_eq!((cluster.key_prefix.as_str(), cluster.lease_ttl), ("scim-gateway:", Duration::from_secs(15)));
    assert_eq!(c.audit.unwrap().replica, "gw-2", "the audit trail names the cluster's replica");
    assert_eq!(c.routes[0].upstream.on_cluster_error, crate::cluster::OnClusterError::Local);
    assert!(check(MINIMAL).unwrap().cluster.is_none());
    let bad = format!("{MINIMAL}on_cluster_error = \"wait\"\n[cluster]\nredis_url = \"redis://:secret@redis:6379\"\n");
    let joined = check(&bad).unwrap_err().join("\n");
    assert!(joined.contains("unknown on_cluster_error `wait`"), "{joined}");
    assert!(joined.contains("holds a password") && !joined.contains("secret@"), "{joined}");
    let http = check(&format!("{MINIMAL}[cluster]\nredis_url = \"http://redis\"\n")).unwrap_err().join("\n");
    assert!(http.contains("not a") && http.contains("Redis") || http.contains("redis://"), "{http}");
}

#[test]
fn telemetry_is_off_by_default_and_every_bad_key_is_reported_at_its_place() {
    assert!(check(MINIMAL).unwrap().telemetry.is_none(), "traces are off without [telemetry]");
    let on = check(&format!("{MINIMAL}[telemetry]\notlp_endpoint = \"http://collector:4318\"\nsampling_ratio = 1\n"));
    let t = on.unwrap().telemetry.unwrap();
    assert_eq!(t.endpoint.to_string(), "http://collector:4318/v1/traces");
    assert_eq!((t.sampling_ratio, t.service_name.as_str(), t.max_queue), (1.0, "scim-gateway", 2048));
    assert_eq!((t.timeout, t.export_interval), (Duration::from_secs(10), Duration::from_secs(5)));
    let quarter =
        check(&format!("{MINIMAL}[telemetry]\notlp_endpoint = \"https://o.example\"\nsampling_ratio = 0.25\n"));
    assert_eq!(quarter.unwrap().telemetry.unwrap().sampling_ratio, 0.25);
    let bad = format!(
        "{MINIMAL}[telemetry]\notlp_endpoint = \"http://u:pw@collector\"\nsampling_ratio = 1.5\nheaders_env = \"api key\"\nmax_queue = 0\n"
    );
    let joined = check(&bad).unwrap_err().join("\n");
    for (at, what) in [
        ("gw.toml:6:17", "holds credentials"),
        ("gw.toml:7:18", "sampling_ratio must be between 0 and 1"),
        ("gw.toml:8:15", "not an environment variable name"),
        ("gw.toml:9:13", "max_queue must be between"),
    ] {
        assert!(
            joined.contains(&format!("{at}: error: {what}")) || joined.contains(at) && joined.contains(what),
            "{at} {what}: {joined}"
        );
    }
    let none = check(&format!("{MINIMAL}[telemetry]\nsampling_ratio = 0.5\n")).unwrap_err().join("\n");
    assert!(none.contains("needs otlp_endpoint"), "{none}");
    let typo = check(&format!("{MINIMAL}[telemetri]\n")).unwrap_err().join("\n");
    assert!(typo.contains("telemetry"), "a hint names the section: {typo}");
}
