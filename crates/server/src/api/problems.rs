//! The problems the `grade` function knows: `GET /problems`, and, for course staff,
//! `PUT /problems/{id}` with a zipped package and `DELETE /problems/{id}`.
//!
//! Changing problems needs one of the operator's admin keys (`Authorization: Bearer KEY`)
//! when any is configured; with none, only a client on this host may (loopback), so a
//! server started on a laptop takes uploads from its own user and nobody else.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::read_body;
use crate::admission::Lane;
use crate::catalogue::Change;
use crate::error::ApiError;
use crate::{ApiKeys, AppState};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/problems", get(list))
        .route("/problems/{id}", get(one).put(upload).delete(remove))
}

/// The problems, with their sample tests (an interactive problem's as interactions: its
/// test input is the judge's secret) and the limits their runs get, each with its source.
async fn list(State(state): State<Arc<AppState>>) -> Response {
    let mut list = Vec::new();
    for (package, uploaded) in state.problems.all() {
        list.push(describe(&state, &package, uploaded).await);
    }
    Json(list).into_response()
}

async fn one(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match state.problems.entry(&id) {
        Ok((package, uploaded)) => Json(describe(&state, &package, uploaded).await).into_response(),
        Err(unknown) => unknown.into_response(),
    }
}

async fn describe(state: &AppState, package: &judge::ProblemPackage, uploaded: bool) -> Value {
    let mut samples = Vec::new();
    if package.interactive {
        for interaction in &package.interactions {
            samples.push(json!({ "name": interaction.name, "interaction": interaction.lines }));
        }
    } else {
        for case in package.samples() {
            let (Ok(input), Ok(answer)) = (case.input.read().await, case.answer.read().await)
            else {
                continue;
            };
            samples.push(json!({
                "name": case.name,
                "input": String::from_utf8_lossy(&input),
                "answer": String::from_utf8_lossy(&answer),
            }));
        }
    }
    let limits = state.grader.effective_limits(package);
    json!({
        "id": package.id,
        "name": package.name,
        "type": match (package.interactive, package.passes, package.scoring) {
            (true, _, _) => "interactive",
            (false, Some(_), _) => "multi-pass",
            (false, None, true) => "scoring",
            (false, None, false) => "pass-fail",
        },
        "uploaded": uploaded,
        "time_limit_s": limits.time_limit.map(|t| t.seconds),
        "memory_mib": limits.memory_mib,
        "output_mib": limits.output_mib,
        "limits": {
            "time": match limits.time_limit {
                Some(limit) => json!(limit),
                None => json!({ "seconds": null, "source": "deriving" }),
            },
            "memory": { "mib": limits.memory_mib, "source": limits.memory_source },
            "output": { "mib": limits.output_mib, "source": limits.output_source },
        },
        "tests": package.cases.len(),
        "samples": samples,
        "statement": package.statement,
    })
}

/// Whether the client may change problems: an admin key when there are any, else a
/// client on this host.
fn may_change(
    keys: &ApiKeys,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    if keys.is_empty() {
        return match peer.is_some_and(|peer| peer.ip().to_canonical().is_loopback()) {
            true => Ok(()),
            false => Err(ApiError::Forbidden(
                "problems are changed from this host only, unless the server has admin keys \
                 (--admin-keys); then send one as Authorization: Bearer KEY"
                    .into(),
            )),
        };
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(key) if keys.accepts(key) => Ok(()),
        Some(_) => Err(ApiError::Unauthorized(
            "the admin key is not one of the server's".into(),
        )),
        None => Err(ApiError::Unauthorized(
            "changing problems needs an admin key: Authorization: Bearer KEY".into(),
        )),
    }
}

fn peer(request: &Request) -> Option<SocketAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0)
}

/// `PUT /problems/{id}`: the zipped package (at the archive's root, or in its one top
/// folder) becomes problem `id`, checked first: it loads, and its validators compile.
/// `201` for a new problem, `200` for a new version, with the problem as `GET` shows it and
/// what loading warned of.
async fn upload(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    may_change(&state.config.admin_keys, peer(&request), request.headers())?;
    let zip_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let mime = v.split(';').next().unwrap_or_default().trim();
            mime.eq_ignore_ascii_case("application/zip")
        });
    if !zip_type {
        return Err(ApiError::UnsupportedMediaType(
            "a problem is uploaded as a zipped package: Content-Type: application/zip".into(),
        ));
    }
    let body: Body = request.into_body();
    let zip = read_body(
        body,
        state.config.max_upload_bytes,
        state.config.read_timeout,
    )
    .await?;
    let staged = {
        let (state, id) = (state.clone(), id.clone());
        tokio::task::spawn_blocking(move || {
            state
                .problems
                .stage(&id, &zip, &state.config.archive_limits)
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??
    };
    {
        // Compiling takes a slot, as any compile does.
        let _slot = state.admission.slot(Lane::Interactive).await?;
        state
            .grader
            .compile_validators(&staged.package)
            .await
            .map_err(|e| match e {
                judge::Error::Lang(e) => e.into(),
                judge::Error::Sandbox(e) => ApiError::Internal(e.to_string()),
                refused => staged.refused(refused),
            })?;
    }
    let warnings = staged.warnings();
    let (package, change) = state.problems.install(staged).await?;
    for warning in &warnings {
        tracing::warn!(problem = %package.id, "{warning}");
    }
    tracing::info!(problem = %package.id, ?change, "problem uploaded");
    tokio::spawn(crate::derive_time_limit(state.clone(), package.clone()));
    let mut body = describe(&state, &package, true).await;
    body["warnings"] = json!(warnings);
    let status = match change {
        Change::Created => StatusCode::CREATED,
        Change::Replaced => StatusCode::OK,
    };
    Ok((status, Json(body)).into_response())
}

/// `DELETE /problems/{id}`: an uploaded problem is gone; gradings under way finish with it.
async fn remove(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    may_change(&state.config.admin_keys, peer(&request), request.headers())?;
    state.problems.remove(&id).await?;
    tracing::info!(problem = %id, "problem removed");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_keys_only_this_host_may_change_problems() {
        let none = ApiKeys::default();
        let headers = HeaderMap::new();
        for peer in ["127.0.0.1:5000", "[::1]:5000", "[::ffff:127.0.0.1]:5000"] {
            assert!(
                may_change(&none, Some(peer.parse().unwrap()), &headers).is_ok(),
                "{peer}"
            );
        }
        for peer in [
            Some("10.0.0.7:5000".parse().unwrap()),
            Some("[2001:db8::1]:80".parse().unwrap()),
            None,
        ] {
            let refused = may_change(&none, peer, &headers).unwrap_err();
            assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{peer:?}");
        }
    }

    #[test]
    fn with_keys_the_key_decides_wherever_the_client_is() {
        let keys = ApiKeys::parse("s3cret\n");
        let remote = Some("10.0.0.7:5000".parse().unwrap());
        let local = Some("127.0.0.1:5000".parse().unwrap());
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            headers
        };
        assert!(may_change(&keys, remote, &with("Bearer s3cret")).is_ok());
        for (peer, headers) in [
            (remote, HeaderMap::new()),
            (local, HeaderMap::new()),
            (local, with("Bearer wrong")),
            (remote, with("s3cret")),
        ] {
            let refused = may_change(&keys, peer, &headers).unwrap_err();
            assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        }
    }
}
