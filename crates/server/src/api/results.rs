//! Stored submissions: `GET /results/<id>` (its state, and its report once done) and
//! `DELETE /results/<id>` (cancels it while queued or running; a running program is killed).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::timestamp;
use crate::error::ApiError;
use crate::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route(
        "/results/{id}",
        get(
            |State(state): State<Arc<AppState>>, Path(id): Path<String>| async move {
                result(&state, &id)
                    .await
                    .unwrap_or_else(IntoResponse::into_response)
            },
        )
        .delete(
            |State(state): State<Arc<AppState>>, Path(id): Path<String>| async move {
                cancel(&state, &id)
                    .await
                    .unwrap_or_else(IntoResponse::into_response)
            },
        ),
    )
}

async fn result(state: &AppState, id: &str) -> Result<Response, ApiError> {
    let submission = state.queue()?.get(id).await?.ok_or_else(|| unknown(id))?;
    Ok(Json(render(&submission)).into_response())
}

async fn cancel(state: &AppState, id: &str) -> Result<Response, ApiError> {
    let queue = state.queue()?;
    match queue.cancel(id).await? {
        store::Cancel::NotFound => Err(unknown(id)),
        store::Cancel::Finished(state) => Err(ApiError::Conflict(format!(
            "submission {id} is {} already",
            state.as_str()
        ))),
        store::Cancel::Cancelled { .. } => {
            let submission = queue.get(id).await?.ok_or_else(|| unknown(id))?;
            Ok(Json(render(&submission)).into_response())
        }
    }
}

fn unknown(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "no submission {id:?} (unknown, or purged after its retention)"
    ))
}

/// A stored submission as `GET /results/<id>` shows it.
fn render(submission: &store::Submission) -> Value {
    let result = submission
        .result
        .as_deref()
        .map(|text| serde_json::from_str(text).unwrap_or(Value::String(text.to_owned())));
    let callback = submission.callback_url.as_ref().map(|url| {
        json!({
            "url": url,
            "attempts": submission.callback_attempts,
            "outcome": submission.callback_outcome,
        })
    });
    // A claimed submission waits for a slot on its replica: still queued, to the client.
    let (state, started) = match submission.state {
        store::State::Claimed => ("queued", false),
        other => (other.as_str(), submission.started_at.is_some()),
    };
    json!({
        "id": submission.id,
        "function": submission.function,
        "state": state,
        "submitted_at": timestamp(submission.submitted_at),
        "started_at": submission.started_at.filter(|_| started).map(timestamp),
        "finished_at": submission.finished_at.map(timestamp),
        "runner": submission.runner.as_ref().filter(|_| started),
        "attempts": submission.attempts,
        "status": submission.status,
        "result": result,
        "callback": callback,
    })
}
