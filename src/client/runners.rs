//! `slipway runners`: every registered runner with its labels, capacity, when it was last
//! heard from, and the jobs it runs now.
//!
//! This file only reads; registration tokens and the runner process live elsewhere.

use protocol::wire::RunnerView;
use serde::Serialize;

use super::runs::{list_runs, run_detail};
use super::{ClientError, EngineArgs, EngineClient, block_on, print_json, table};
use crate::exit;

/// A runner as `slipway runners --json` prints it: the API's view plus its current jobs.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunnerListing {
    #[serde(flatten)]
    pub runner: RunnerView,
    pub current_jobs: Vec<CurrentJob>,
}

/// A job a runner holds a lease on now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct CurrentJob {
    pub run_id: String,
    pub job_key: String,
}

/// `slipway runners [--json]`: for the `Runners` command (list).
pub(crate) fn runners_list(engine: &EngineArgs, json: bool) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(engine)?;
        let listings = runner_listings(&client).await?;
        if json {
            print_json(&listings)?;
            return Ok(exit::SUCCESS);
        }
        let now = table::now_us();
        let rows: Vec<Vec<String>> = listings
            .iter()
            .map(|listing| {
                let runner = &listing.runner;
                let jobs: Vec<String> = listing
                    .current_jobs
                    .iter()
                    .map(|job| format!("{}/{}", short_id(&job.run_id), job.job_key))
                    .collect();
                vec![
                    runner.name.clone(),
                    runner.runner_id.clone(),
                    if runner.labels.is_empty() {
                        "-".into()
                    } else {
                        runner.labels.join(",")
                    },
                    format!("{}/{}", listing.current_jobs.len(), runner.capacity),
                    runner.last_seen_at_us.map_or_else(
                        || "never".into(),
                        |seen| format!("{} ago", table::duration(seen, now)),
                    ),
                    if jobs.is_empty() {
                        "-".into()
                    } else {
                        jobs.join(" ")
                    },
                ]
            })
            .collect();
        table::print(
            &["NAME", "ID", "LABELS", "BUSY", "LAST SEEN", "JOBS"],
            &rows,
        );
        Ok(exit::SUCCESS)
    })
}

/// Every runner with the jobs it runs now (found in the runs that are not completed).
pub(crate) async fn runner_listings(
    client: &EngineClient,
) -> Result<Vec<RunnerListing>, ClientError> {
    let runners: Vec<RunnerView> = client.get("/api/v1/runners").await?;
    let mut current: Vec<(String, CurrentJob)> = Vec::new();
    for run in list_runs(client).await? {
        if run.status == "completed" {
            continue;
        }
        let detail = run_detail(client, &run.run_id).await?;
        for job in detail.jobs {
            if job.status != "in_progress" {
                continue;
            }
            if let Some(runner_id) = job.runner_id {
                current.push((
                    runner_id,
                    CurrentJob {
                        run_id: run.run_id.clone(),
                        job_key: job.job_key,
                    },
                ));
            }
        }
    }
    Ok(runners
        .into_iter()
        .map(|runner| {
            let current_jobs = current
                .iter()
                .filter(|(runner_id, _)| *runner_id == runner.runner_id)
                .map(|(_, job)| job.clone())
                .collect();
            RunnerListing {
                runner,
                current_jobs,
            }
        })
        .collect())
}

fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
