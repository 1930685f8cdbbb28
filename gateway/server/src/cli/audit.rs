//! `scim-gateway audit`: the audit trail from the command line, for
//! operators without a browser. Reads the store the config names (SQLite
//! file or PostgreSQL), newest first; `--follow` prints new records as they
//! arrive, oldest first.

use super::AuditArgs;
use crate::audit::record::Record;
use crate::audit::store::{Filter, Store};
use anyhow::{anyhow, bail};
use std::io::Write;
use std::time::Duration;

pub(super) fn run(args: &AuditArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let loaded = crate::config::load(&args.config, &crate::config::Overrides::default()).map_err(|e| anyhow!("{e}"))?;
    let Some(settings) = loaded.config.audit else {
        bail!("{} has no [audit] section: the gateway keeps no trail", args.config.display());
    };
    let filter = filter(args)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = crate::audit::open_store(&settings).await.map_err(|e| anyhow!("{e}"))?;
        let records = store.query(&filter).await.map_err(|e| anyhow!("{e}"))?;
        for r in records.iter().rev() {
            print(r, args.json, out)?;
        }
        if args.follow {
            follow(store.as_ref(), filter, records.first().map(|r| r.id.clone()), args.json, out).await?;
        }
        Ok(0)
    })
}

fn filter(args: &AuditArgs) -> anyhow::Result<Filter> {
    let status = args.status.map(|s| s.to_string());
    let limit = args.limit.to_string();
    let pairs = [
        ("route", args.route.as_deref()),
        ("resource_type", args.resource_type.as_deref()),
        ("resource_id", args.resource_id.as_deref()),
        ("external_id", args.external_id.as_deref()),
        ("subject", args.subject.as_deref()),
        ("trace_id", args.trace_id.as_deref()),
        ("method", args.method.as_deref()),
        ("status", status.as_deref()),
        ("fault", args.fault.as_deref()),
        ("deprovisioning", args.deprovisioning.then_some("true")),
        ("since", args.since.as_deref()),
        ("until", args.until.as_deref()),
        ("limit", Some(limit.as_str())),
    ];
    Filter::from_pairs(pairs.into_iter().filter_map(|(k, v)| v.map(|v| (k, v)))).map_err(anyhow::Error::msg)
}

/// Polls for records newer than the last one printed.
async fn follow(
    store: &dyn Store,
    mut filter: Filter,
    mut last: Option<String>,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        filter.after = last.clone().or_else(|| Some(String::new()));
        filter.cursor = None;
        match store.query(&filter).await {
            Ok(records) => {
                for r in &records {
                    print(r, json, out)?;
                }
                if let Some(r) = records.last() {
                    last = Some(r.id.clone());
                }
                out.flush()?;
            }
            Err(e) => eprintln!("audit store: {e}; retrying"),
        }
    }
}

fn print(r: &Record, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string(r)?)?;
        return Ok(());
    }
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let deprovisioning = if r.deprovisioning { " deprovisioning" } else { "" };
    let fault = r.fault.as_ref().map(|f| format!(" {f} fault")).unwrap_or_default();
    let changes: Vec<String> = r.changes.iter().map(|c| format!("{}:{}", c.stage.as_str(), c.path)).collect();
    writeln!(
        out,
        "{} {} {} {} {} {} id={} subject={} status={}{fault}{deprovisioning} changes=[{}]",
        r.time,
        r.id,
        r.route,
        r.mode,
        r.method,
        r.resource_type,
        dash(&r.resource_id),
        dash(&r.subject),
        r.status,
        changes.join(", ")
    )?;
    Ok(())
}
