//! The compatible APIs with their real clients, unchanged, from their registries at pinned
//! versions (`tests/clients/`, installed by scripts/setup.sh): the official Judge0 Python
//! SDK; and the APIs' bad input, answered as each API words it.

mod common;

use std::path::{Path, PathBuf};

use common::{config, stored, Server};
use serde_json::{json, Value};

fn clients() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Runs a client script to its end; its output is shown, and a failure fails the test.
async fn client(program: &Path, script: &str, env: &[(&str, String)]) {
    assert!(
        program.exists(),
        "{} is missing: run scripts/setup.sh",
        program.display()
    );
    let output = tokio::process::Command::new(program)
        .arg(clients().join(script))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_judge0_sdk_runs_unchanged() {
    let server = stored(config(2, 64), 67_000).await;
    let python = clients().join(".venv/bin/python");
    client(
        &python,
        "judge0_sdk.py",
        &[
            ("JUDGE0_CE_ENDPOINT", server.url("/judge0")),
            ("JUDGE0_CE_AUTH_HEADERS", "{}".into()),
        ],
    )
    .await;
}

impl Server {
    /// A Judge0 request: the status and the JSON body (`null` when empty).
    async fn judge0(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, self.url(&format!("/judge0{path}")));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn judge0_answers_bad_input_as_judge0_does() {
    let mut config = config(1, 16);
    config.max_source_bytes = 1000;
    let server = stored(config, 67_300).await;
    let cases: [(&str, &str, u16, Value); 8] = [
        (
            "/submissions",
            "{\"source_code\": ",
            400,
            json!("malformed JSON"),
        ),
        (
            "/submissions",
            r#"{"language_id": 71}"#,
            422,
            json!({"source_code": ["can't be blank"]}),
        ),
        (
            "/submissions",
            r#"{"source_code": "print(1)", "language_id": 150000}"#,
            422,
            json!({"language_id": ["language with id 150000 doesn't exist"]}),
        ),
        (
            "/submissions",
            r#"{"source_code": "print(1)", "language_id": 71, "wall_time_limit": 100, "memory_limit": 10}"#,
            422,
            json!({"memory_limit": ["must be greater than or equal to 2048"], "wall_time_limit": ["must be less than or equal to 20"]}),
        ),
        (
            "/submissions?base64_encoded=true",
            r#"{"source_code": "not base64!", "language_id": 71}"#,
            422,
            json!("source_code"),
        ),
        (
            "/submissions",
            &format!(
                r#"{{"source_code": "{}", "language_id": 71}}"#,
                "x".repeat(2000)
            ),
            422,
            json!("source_code"),
        ),
        (
            "/submissions",
            r#"{"source_code": "print(1)", "language_id": 71, "callback_url": "http://127.0.0.1/hook"}"#,
            422,
            json!("callback_url"),
        ),
        (
            "/submissions",
            r#"{"source_code": "print(1)", "language_id": 71, "enable_network": true}"#,
            422,
            json!({"enable_network": ["enabling network is not allowed"]}),
        ),
    ];
    for (path, body, status, expected) in cases {
        let (got, answer) = server.judge0("POST", path, Some(body)).await;
        assert_eq!(got, status, "{path} {body}: {answer}");
        match &expected {
            Value::String(word) if status == 400 => {
                assert!(
                    answer["error"].as_str().unwrap().contains(word.as_str()),
                    "{answer}"
                )
            }
            Value::String(field) => assert!(answer[field.as_str()].is_array(), "{answer}"),
            _ => assert_eq!(answer, expected),
        }
    }
    let (status, answer) = server
        .judge0("GET", "/submissions/no-such-token", None)
        .await;
    assert_eq!(status, 404, "{answer}");
    let (status, answer) = server
        .judge0("GET", "/submissions/x?fields=stdout,nonsense", None)
        .await;
    assert_eq!(
        (status, &answer),
        (400, &json!({"error": "invalid fields: [nonsense]"}))
    );
    let (status, _) = server.judge0("GET", "/languages/9999", None).await;
    assert_eq!(status, 404);
    // Listing and deleting are forbidden without an operator's key, as in Judge0.
    let (status, answer) = server.judge0("GET", "/submissions", None).await;
    assert_eq!((status, answer), (403, Value::Null));
    // A batch: a valid one gets a token, an invalid one its errors; more than 20, refused.
    let batch =
        r#"{"submissions": [{"source_code": "print(1)", "language_id": 71}, {"language_id": 71}]}"#;
    let (status, answer) = server
        .judge0("POST", "/submissions/batch", Some(batch))
        .await;
    assert_eq!(status, 201, "{answer}");
    assert!(
        answer[0]["token"].is_string() && answer[1]["source_code"].is_array(),
        "{answer}"
    );
    let many = json!({"submissions": vec![json!({"source_code": "1", "language_id": 71}); 21]});
    let (status, answer) = server
        .judge0("POST", "/submissions/batch", Some(&many.to_string()))
        .await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = server
        .judge0(
            "GET",
            &format!(
                "/submissions/batch?tokens={},nope",
                answer_token(&server).await
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["submissions"][0].is_object() && answer["submissions"][1].is_null(),
        "{answer}"
    );
}

/// A token of a fresh submission.
async fn answer_token(server: &Server) -> String {
    let (_, answer) = server
        .judge0(
            "POST",
            "/submissions",
            Some(r#"{"source_code": "print(2)", "language_id": 71}"#),
        )
        .await;
    answer["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn judge0_with_a_key_lists_deletes_and_refuses_strangers() {
    let mut config = config(1, 16);
    config.api_keys = server::ApiKeys::parse("s3cret other-key");
    let server = stored(config, 67_600).await;
    let (status, answer) = server.judge0("GET", "/languages", None).await;
    assert_eq!(status, 200, "the languages need no key: {answer}");
    let body = Some(r#"{"source_code": "print(7)", "language_id": 71}"#);
    let (status, _) = server.judge0("POST", "/submissions?wait=true", body).await;
    assert_eq!(status, 401);
    let (status, _) = server
        .judge0("POST", "/submissions?X-Auth-Token=nope", body)
        .await;
    assert_eq!(status, 401);
    let (status, done) = server
        .judge0("POST", "/submissions?wait=true&X-Auth-Token=s3cret", body)
        .await;
    assert_eq!(status, 201, "{done}");
    assert_eq!(
        (done["status"]["id"].as_u64(), done["stdout"].as_str()),
        (Some(3), Some("7\n"))
    );
    let token = done["token"].as_str().unwrap();
    let (status, page) = server
        .judge0("GET", "/submissions?X-Auth-User=other-key&per_page=5", None)
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["meta"]["total_count"], 1);
    assert_eq!(page["submissions"][0]["token"], token);
    let (status, _) = server
        .judge0(
            "DELETE",
            &format!("/submissions/{token}?X-Auth-Token=s3cret"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .judge0(
            "GET",
            &format!("/submissions/{token}?X-Auth-Token=s3cret"),
            None,
        )
        .await;
    assert_eq!(status, 404, "deleted");
}
