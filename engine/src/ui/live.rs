//! `GET /api/v1/events/runs[?run=ID]`: server-sent events of run states for pages that stay
//! live. Each `state` event carries the newest runs (or one run and its jobs) as JSON, sent
//! when it differs from the last one sent; the stream checks the store once a second and ends
//! when the client leaves or the engine stops. A follower holds only its last answer.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::api::AppState;
use crate::api::reads::{parse_run_id, run_detail, run_view};
use crate::store::{RunId, Store};

/// How often a follower's answer is computed again.
const PERIOD: Duration = Duration::from_secs(1);

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/events/runs", get(events))
}

#[derive(Deserialize)]
struct LiveQuery {
    run: Option<String>,
}

async fn events(State(state): State<AppState>, Query(query): Query<LiveQuery>) -> Response {
    let run = match query.run.as_deref().map(parse_run_id).transpose() {
        Ok(run) => run,
        Err(error) => return error.into_response(),
    };
    let engine = state.engine().clone();
    let (sender, receiver) = mpsc::channel::<Result<Event, Infallible>>(4);
    tokio::spawn(async move {
        let shutdown = engine.shutdown_token();
        let mut last = String::new();
        loop {
            let now = snapshot(engine.store(), run);
            let text = now.to_string();
            if text != last {
                let event = Event::default().event("state").data(text.clone());
                if sender.send(Ok(event)).await.is_err() {
                    return;
                }
                last = text;
            }
            tokio::select! {
                _ = tokio::time::sleep(PERIOD) => {}
                _ = sender.closed() => return,
                _ = shutdown.cancelled() => return,
            }
        }
    });
    Sse::new(ReceiverStream::new(receiver))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// What a follower sees now: one run and its jobs, or the 50 newest runs.
fn snapshot(store: &Store, run: Option<RunId>) -> Value {
    match run {
        Some(run_id) => match run_detail(store, run_id) {
            Ok(detail) => json!({
                "run": state_of(&detail.run.run_id, &detail.run.status, detail.run.conclusion.as_deref(), detail.run.cancel_requested),
                "jobs": detail.jobs.iter().map(|job| json!({
                    "job_key": job.job_key,
                    "status": job.status,
                    "conclusion": job.conclusion,
                    "waiting_reason": job.waiting_reason,
                    "steps": job.steps.iter().map(|step| step.status.as_str()).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            }),
            Err(error) => json!({ "error": error.message }),
        },
        None => match store.runs() {
            Ok(runs) => json!({
                "count": runs.len(),
                "runs": runs.iter().take(super::runs::PAGE_SIZE).map(|run| {
                    let view = run_view(run);
                    state_of(&view.run_id, &view.status, view.conclusion.as_deref(), view.cancel_requested)
                }).collect::<Vec<_>>(),
            }),
            Err(error) => json!({ "error": error.to_string() }),
        },
    }
}

fn state_of(run_id: &str, status: &str, conclusion: Option<&str>, cancel_requested: bool) -> Value {
    json!({
        "run_id": run_id,
        "status": status,
        "conclusion": conclusion,
        "cancel_requested": cancel_requested,
    })
}
