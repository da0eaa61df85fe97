//! `slipway gc`: the engine's retention sweep on demand (`POST /api/v1/admin/gc`): finished runs
//! older than `--older-than` go with their jobs, logs, artifacts and work dirs; `--dry-run` lists
//! them only.
//!
//! This file must not choose runs itself: the engine does.

use std::time::Duration;

use protocol::PROTOCOL_VERSION;
use protocol::admin::{GcRequest, GcResponse};
use reqwest::Method;

use super::{ClientError, EngineArgs, EngineClient, block_on, print_json, table};
use crate::exit;

/// `slipway gc [--older-than 30d] [--dry-run]`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct GcArgs {
    /// Remove runs finished longer ago than this (`30d`, `12h`) [default: the engine's
    /// `serve --retain`, else 30d]
    #[arg(long, value_parser = crate::serve::parse_duration, value_name = "DURATION")]
    pub older_than: Option<Duration>,
    /// Only list what would be removed
    #[arg(long)]
    pub dry_run: bool,
    /// Print the engine's answer as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Runs `slipway gc`; returns the exit code.
pub(crate) fn gc(args: &GcArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let request = GcRequest {
            protocol_version: PROTOCOL_VERSION,
            older_than_seconds: args.older_than.map(|age| age.as_secs()),
            dry_run: args.dry_run,
        };
        let answer: Option<GcResponse> = client
            .admin_send(Method::POST, "/api/v1/admin/gc", &request)
            .await?;
        let answer = answer.ok_or_else(|| ClientError::Protocol("an empty answer".into()))?;
        if args.json {
            print_json(&answer)?;
            return Ok(exit::SUCCESS);
        }
        let verb = if answer.dry_run {
            "would remove"
        } else {
            "removed"
        };
        if !answer.runs.is_empty() {
            let rows: Vec<Vec<String>> = answer
                .runs
                .iter()
                .map(|run| {
                    vec![
                        run.run_id.clone(),
                        format!("{} #{}", run.workflow, run.run_number),
                        table::time(run.finished_at_us),
                    ]
                })
                .collect();
            table::print(&["RUN", "WORKFLOW", "FINISHED"], &rows);
        }
        println!(
            "{verb} {} run{} finished more than {} ago ({} of files)",
            answer.runs.len(),
            if answer.runs.len() == 1 { "" } else { "s" },
            age(answer.older_than_seconds),
            bytes(answer.bytes)
        );
        Ok(exit::SUCCESS)
    })
}

/// `2592000` → `30d`, `5400` → `90m`: the largest unit that divides the age.
fn age(seconds: u64) -> String {
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if seconds >= size && seconds.is_multiple_of(size) {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

fn bytes(count: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if count < 1024 {
        return format!("{count} B");
    }
    let mut value = count as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS.get(unit).copied().unwrap_or("B"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_sizes_read_as_people_write_them() {
        assert_eq!(age(30 * 86_400), "30d");
        assert_eq!(age(5400), "90m");
        assert_eq!(age(45), "45s");
        assert_eq!(bytes(10), "10 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
