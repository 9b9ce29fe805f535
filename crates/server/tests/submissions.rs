//! Stored submissions through the gateway: `POST /async-function/<name>`, `GET` and
//! `DELETE /results/<id>`, callbacks, the pending cap, and sync requests during a burst.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{config, header, stored, Server};
use serde_json::{json, Value};
use server::{CallbackRules, ServerConfig};

impl Server {
    async fn submit(&self, function: &str, body: Value, callback: Option<&str>) -> (u16, Value) {
        let mut request = self
            .http
            .post(self.url(&format!("/async-function/{function}")))
            .json(&body);
        if let Some(url) = callback {
            request = request.header("x-callback-url", url);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let call_id = header(&response, "x-call-id");
        let retry = header(&response, "retry-after");
        let mut body: Value = response.json().await.unwrap();
        if status == 202 {
            assert_eq!(
                body["id"],
                json!(call_id),
                "X-Call-Id is the submission's id"
            );
        }
        if status == 429 || status == 503 {
            body["retry_after"] = json!(retry);
        }
        (status, body)
    }

    /// Polls a submission until it is done or cancelled.
    async fn settled(&self, id: &str) -> Value {
        let start = Instant::now();
        loop {
            let (status, result) = self.get(&format!("/results/{id}")).await;
            assert_eq!(status, 200, "{result}");
            if result["state"] == "done" || result["state"] == "cancelled" {
                return result;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "not done: {result}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A POST of `body` as `content_type`.
    async fn post(&self, path: &str, content_type: &str, body: &'static str) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// `DELETE /results/<id>`: the status and the JSON body.
    async fn cancel(&self, id: &str) -> (u16, Value) {
        let response = self
            .http
            .delete(self.url(&format!("/results/{id}")))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn state_of(&self, id: &str) -> String {
        let (_, result) = self.get(&format!("/results/{id}")).await;
        result["state"].as_str().unwrap_or_default().to_owned()
    }
}

#[tokio::test]
async fn an_async_run_is_stored_then_its_report_is_what_the_sync_call_returns() {
    let server = stored(config(2, 64), 65_000).await;
    let body = json!({"source": "import sys\nprint(sum(map(int, sys.stdin.read().split())))", "stdin": "1 2 3\n"});
    let (status, accepted) = server.submit("python", body.clone(), None).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36);
    let done = server.settled(&id).await;
    let (_, sync) = server.json("python", body).await;
    assert_eq!(done["function"], "python");
    assert_eq!(done["status"], 200);
    assert_eq!(done["attempts"], 1);
    assert!(done["runner"].as_str().unwrap().contains('/'), "{done}");
    for time in ["submitted_at", "started_at", "finished_at"] {
        let text = done[time].as_str().unwrap();
        assert!(text.ends_with('Z') && text.contains('.'), "{time}: {text}");
    }
    assert!(done["finished_at"].as_str() >= done["started_at"].as_str());
    let result = &done["result"];
    // Exactly the synchronous report's shape and content, measurements aside.
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(result), keys(&sync));
    for field in [
        "status",
        "stdout",
        "stderr",
        "exit_code",
        "language",
        "limits",
        "isolation",
    ] {
        assert_eq!(result[field], sync[field], "{field}");
    }
    assert_eq!(result["stdout"], "6\n");

    // Plain text to a language's function, and grading with inline tests.
    let source = "#include <stdio.h>\nint main(void){puts(\"text\");return 3;}";
    let response = server.post("/async-function/c", "text/plain", source).await;
    assert_eq!(response.status(), 202);
    let id: Value = response.json().await.unwrap();
    let done = server.settled(id["id"].as_str().unwrap()).await;
    assert_eq!(done["result"]["stdout"], "text\n");
    assert_eq!(done["result"]["status"], "run_time_error");
    assert_eq!(done["result"]["exit_code"], 3);

    let grade = json!({"language": "python", "source": "print(int(input()) * 2)",
                       "tests": [{"input": "2\n", "answer": "4\n"}, {"input": "5\n", "answer": "11\n"}]});
    let (status, accepted) = server.submit("grade", grade, None).await;
    assert_eq!(status, 202, "{accepted}");
    let done = server.settled(accepted["id"].as_str().unwrap()).await;
    assert_eq!(done["result"]["verdict"], "wrong_answer", "{done}");
    assert_eq!(done["result"]["tests"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn bad_async_requests_are_refused_at_submission_with_4xx() {
    let server = stored(config(1, 8), 65_300).await;
    let python = json!({"source": "print(1)"});
    let cases = [
        ("nosuch", python.clone(), None, 404, "unknown function"),
        (
            "run",
            json!({"language": "cobol", "source": "x"}),
            None,
            404,
            "unknown language",
        ),
        (
            "run",
            json!({"source": "x"}),
            None,
            400,
            "needs a \"language\"",
        ),
        (
            "grade",
            json!({"language": "python", "source": "x", "problem": "nosuch"}),
            None,
            404,
            "unknown problem",
        ),
        (
            "python",
            python.clone(),
            Some("not a url"),
            400,
            "callback URL",
        ),
        (
            "python",
            python.clone(),
            Some("ftp://example.com/"),
            400,
            "only http and https",
        ),
        (
            "python",
            python.clone(),
            Some("http://127.0.0.1:9/hook"),
            400,
            "loopback",
        ),
        (
            "python",
            python.clone(),
            Some("http://169.254.169.254/latest"),
            400,
            "metadata",
        ),
        (
            "python",
            python.clone(),
            Some("http://[::ffff:10.0.0.8]/"),
            400,
            "private",
        ),
    ];
    for (function, body, callback, expected, message) in cases {
        let (status, answer) = server.submit(function, body.clone(), callback).await;
        assert_eq!(status, expected, "{function} {body} {callback:?}: {answer}");
        let text = answer["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "{text:?} should say {message:?}");
    }
    let response = server
        .post("/async-function/run", "application/json", "{\"language\": ")
        .await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("malformed JSON"));
    let (status, answer) = server
        .get("/results/4a0fd9a2-1b7c-4c83-9f3e-5d0c1f8f1e11")
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    assert_eq!(server.cancel("nosuch").await.0, 404);
    // Nothing refused was stored.
    let (_, accepted) = server.submit("python", python, None).await;
    let done = server.settled(accepted["id"].as_str().unwrap()).await;
    assert_eq!(done["result"]["stdout"], "1\n");
    let (status, refused) = server.cancel(accepted["id"].as_str().unwrap()).await;
    assert_eq!(refused["error"]["code"], "conflict");
    assert_eq!(status, 409, "a finished submission cannot be cancelled");
}

/// A callback listener on 127.0.0.1 that refuses its first `failures` deliveries with 503.
struct Listener {
    url: String,
    received: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>,
}

async fn listener(failures: usize) -> Listener {
    let received = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let received = received.clone();
            move |headers: axum::http::HeaderMap, body: String| {
                let received = received.clone();
                let seen = seen.clone();
                async move {
                    if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < failures {
                        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                    }
                    received.lock().unwrap().push((headers, body));
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", socket.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(socket, app).await });
    Listener { url, received }
}

fn with_loopback_callbacks(mut config: ServerConfig) -> ServerConfig {
    config.submissions.callbacks = CallbackRules::new(vec!["127.0.0.0/8".parse().unwrap()]);
    config.submissions.callback_retry = Duration::from_millis(100);
    config
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(60), "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn callbacks_arrive_with_the_call_id_and_output() {
    let server = stored(with_loopback_callbacks(config(2, 64)), 65_600).await;
    let hook = listener(0).await;
    let mut ids = Vec::new();
    for n in 0..10 {
        let body = json!({"source": format!("print({n} * 7)")});
        let (status, accepted) = server.submit("python", body, Some(&hook.url)).await;
        assert_eq!(status, 202, "{accepted}");
        ids.push((accepted["id"].as_str().unwrap().to_owned(), n * 7));
    }
    wait_for("10 callbacks", || hook.received.lock().unwrap().len() == 10).await;
    let received = hook.received.lock().unwrap().clone();
    for (id, product) in &ids {
        let (headers, body) = received
            .iter()
            .find(|(headers, _)| headers["x-call-id"] == id.as_str())
            .unwrap_or_else(|| panic!("no callback for {id}"));
        assert_eq!(headers["x-function-name"], "python");
        assert_eq!(headers["x-function-status"], "200");
        assert_eq!(headers["content-type"], "application/json");
        let seconds: f64 = headers["x-duration-seconds"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(seconds > 0.0);
        let report: Value = serde_json::from_str(body).unwrap();
        assert_eq!(report["stdout"], format!("{product}\n"));
    }
    let done = server.settled(&ids[0].0).await;
    assert_eq!(done["callback"]["outcome"], "delivered");
    assert_eq!(done["callback"]["attempts"], 1);
}

#[tokio::test]
async fn a_listener_that_fails_twice_then_accepts_still_gets_its_callback() {
    let server = stored(with_loopback_callbacks(config(1, 8)), 65_900).await;
    let hook = listener(2).await;
    let (_, accepted) = server
        .submit(
            "python",
            json!({"source": "print('late')"}),
            Some(&hook.url),
        )
        .await;
    let id = accepted["id"].as_str().unwrap().to_owned();
    wait_for("the third try", || {
        !hook.received.lock().unwrap().is_empty()
    })
    .await;
    let (headers, body) = hook.received.lock().unwrap()[0].clone();
    assert_eq!(headers["x-call-id"], id.as_str());
    assert!(body.contains("late"));
    let (_, result) = server.get(&format!("/results/{id}")).await;
    assert_eq!(result["callback"]["attempts"], 3);
    assert_eq!(result["callback"]["outcome"], "delivered");
    let metrics = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("judgelet_callback_deliveries_total{outcome=\"retried\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn queued_and_running_submissions_are_cancelled_and_the_program_is_gone() {
    let server = stored(config(1, 8), 66_200).await;
    let forever = json!({"source": "while True: pass", "limits": {"cpu_time_ms": 60000, "wall_time_ms": 120000}});
    let (_, running) = server.submit("python", forever.clone(), None).await;
    let (_, queued) = server.submit("python", forever, None).await;
    let (running, queued) = (
        running["id"].as_str().unwrap(),
        queued["id"].as_str().unwrap(),
    );
    let start = Instant::now();
    while server.state_of(running).await != "running" || server.leftovers().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(30), "never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.state_of(queued).await, "queued");

    let (status, cancelled) = server.cancel(queued).await;
    assert_eq!(status, 200);
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(cancelled["runner"], Value::Null, "it never ran");

    assert_eq!(server.cancel(running).await.0, 200);
    wait_for("the program killed", || server.leftovers().is_empty()).await;
    let done = server.settled(running).await;
    assert_eq!(
        (done["state"].as_str(), &done["result"]),
        (Some("cancelled"), &Value::Null)
    );
    // The slot is free again, and the cancelled queued one never runs.
    let (_, next) = server
        .submit("python", json!({"source": "print('next')"}), None)
        .await;
    let done = server.settled(next["id"].as_str().unwrap()).await;
    assert_eq!(done["result"]["stdout"], "next\n");
    assert_eq!(server.state_of(queued).await, "cancelled");
    assert!(server.leftovers().is_empty());
}

#[tokio::test]
async fn the_pending_cap_gives_429_with_retry_after() {
    let mut config = config(1, 8);
    config.submissions.max_pending = 3;
    let server = stored(config, 66_500).await;
    let sleeper =
        json!({"source": "import time\ntime.sleep(60)", "limits": {"wall_time_ms": 120000}});
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (status, accepted) = server.submit("python", sleeper.clone(), None).await;
        assert_eq!(status, 202, "{accepted}");
        ids.push(accepted["id"].as_str().unwrap().to_owned());
    }
    let (status, refused) = server.submit("python", sleeper.clone(), None).await;
    assert_eq!(status, 429, "{refused}");
    assert_eq!(refused["retry_after"], "1");
    assert_eq!(refused["error"]["code"], "overloaded");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("stored submissions"));
    server.cancel(&ids[1]).await;
    let (status, _) = server.submit("python", sleeper, None).await;
    assert_eq!(status, 202, "a cancelled submission frees its place");
    for id in &ids {
        server.cancel(id).await;
    }
}

#[tokio::test]
async fn a_sync_request_does_not_wait_behind_an_async_burst() {
    let server = stored(config(1, 64), 66_800).await;
    let mut ids = Vec::new();
    for n in 0..20 {
        let body = json!({"source": format!("import time\ntime.sleep(0.3)\nprint({n})")});
        let (status, accepted) = server.submit("python", body, None).await;
        assert_eq!(status, 202);
        ids.push(accepted["id"].as_str().unwrap().to_owned());
    }
    let response = server.text("python", "print('now')").await;
    assert_eq!(response.text().await.unwrap(), "now\n");
    // Behind the burst it would have waited for all 20 (6 s of runs); first in line, it
    // waited for the one going at most.
    let mut queued = 0;
    for id in &ids {
        queued += usize::from(server.state_of(id).await == "queued");
    }
    assert!(
        queued >= 10,
        "only {queued} of 20 still queued: the sync request waited"
    );
    for id in &ids {
        server.cancel(id).await;
    }
}
