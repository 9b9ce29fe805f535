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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_npm_piston_client_runs_unchanged() {
    let server = stored(config(2, 64), 67_900).await;
    client(
        Path::new("/usr/bin/node"),
        "piston_client.mjs",
        &[("PISTON_URL", server.url(""))],
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

/// A Jobe client following CodeRunner's own flow (`jobesandbox.php`): submit the run; on a
/// `404`, PUT each file to `files/<md5>` and submit again.
struct CodeRunner<'a> {
    server: &'a Server,
}

const JOBE: &str = "/jobe/index.php/restapi";

impl CodeRunner<'_> {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .server
            .http
            .request(method, self.server.url(&format!("{JOBE}/{path}")))
            .header("user-agent", "CodeRunner")
            .header("accept", "application/json");
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json; charset=utf-8")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Runs `source` with `files` (name, contents): the answer of the accepted try.
    async fn run(
        &self,
        language: &str,
        source: &str,
        input: &str,
        files: &[(&str, &str)],
        parameters: Value,
    ) -> (u16, Value) {
        use md5::{Digest, Md5};
        let id = |contents: &str| hex::encode(Md5::digest(contents.as_bytes()));
        let filename = match language {
            "java" => {
                let class = source
                    .split("public class ")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .unwrap_or("Main");
                format!("{class}.java")
            }
            other => format!("__tester__.{other}"),
        };
        let spec = json!({"run_spec": {
            "language_id": language,
            "sourcecode": source,
            "sourcefilename": filename,
            "input": format!("{input}\n"),
            "file_list": files.iter().map(|(name, contents)| json!([id(contents), name])).collect::<Vec<_>>(),
            "parameters": parameters,
        }});
        let (status, answer) = self
            .send(reqwest::Method::POST, "runs", Some(spec.clone()))
            .await;
        if status != 404 {
            return (status, answer);
        }
        for (_, contents) in files {
            let upload = json!({"file_contents": base64::engine::general_purpose::STANDARD.encode(contents)});
            let (status, _) = self
                .send(
                    reqwest::Method::PUT,
                    &format!("files/{}", id(contents)),
                    Some(upload),
                )
                .await;
            assert_eq!(status, 204);
        }
        self.send(reqwest::Method::POST, "runs", Some(spec)).await
    }

    async fn outcome(&self, language: &str, source: &str, input: &str, parameters: Value) -> Value {
        let (status, answer) = self.run(language, source, input, &[], parameters).await;
        assert_eq!(status, 200, "{answer}");
        answer
    }
}

use base64::Engine;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobe_answers_coderunner_with_every_outcome() {
    let server = stored(config(2, 64), 68_200).await;
    let jobe = CodeRunner { server: &server };
    let (status, languages) = jobe.send(reqwest::Method::GET, "languages", None).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = languages
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l[0].as_str().unwrap())
        .collect();
    for id in ["c", "cpp", "python3", "java", "nodejs", "go", "rust"] {
        assert!(ids.contains(&id), "{languages}");
    }
    let cases: [(&str, &str, &str, Value, u64, &str); 9] = [
        ("c", "#include <stdio.h>\nint main(void){int n; scanf(\"%d\", &n); printf(\"%d\\n\", n * 2);}", "21", json!({}), 15, "42\n"),
        ("python3", "print(input()[::-1])", "abc", json!({}), 15, "cba\n"),
        ("java", "public class Prog { public static void main(String[] a) { System.out.println(\"prog\"); } }", "", json!({}), 15, "prog\n"),
        ("c", "int main(void) { return syntax error; }", "", json!({}), 11, ""),
        // As Jobe's Python3Task, which compiles before it runs.
        ("python3", "print('unclosed'\n", "", json!({}), 11, ""),
        ("python3", "import sys\nprint('partial')\nsys.exit(1)", "", json!({}), 12, "partial\n"),
        ("python3", "while True: pass", "", json!({"cputime": 1}), 13, ""),
        ("python3", "x = bytearray(300 * 1024 * 1024)\nprint(len(x))", "", json!({"memorylimit": 64}), 17, ""),
        ("c", "#include <signal.h>\nint main(void){ raise(SIGSYS); return 0; }", "", json!({}), 19, ""),
    ];
    for (language, source, input, parameters, outcome, stdout) in cases {
        let answer = jobe.outcome(language, source, input, parameters).await;
        assert_eq!(answer["outcome"], outcome, "{language} {source}: {answer}");
        assert_eq!(answer["stdout"], stdout, "{answer}");
        if outcome == 11 {
            assert!(
                answer["cmpinfo"]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
                    .contains("error"),
                "{answer}"
            );
        }
    }
    let raw = jobe
        .outcome(
            "c",
            "#include <stdio.h>\nint main(void){fputs(\"\\xff!\", stdout);}",
            "",
            json!({}),
        )
        .await;
    assert_eq!(raw["stdout"], "\\xff!", "{raw}");

    // Files: the first try is a 404, then CodeRunner uploads and tries again.
    let data = ("data.txt", "3 4 5\n");
    let sum = "#include <stdio.h>\nint main(void){FILE *f = fopen(\"data.txt\", \"r\"); int a, b, c; fscanf(f, \"%d %d %d\", &a, &b, &c); printf(\"%d\\n\", a + b + c);}";
    let (status, answer) = jobe.run("c", sum, "", &[data], json!({})).await;
    assert_eq!(
        (status, answer["outcome"].as_u64()),
        (200, Some(15)),
        "{answer}"
    );
    assert_eq!(answer["stdout"], "12\n");
    let (status, _) = jobe
        .send(
            reqwest::Method::HEAD,
            "files/0123456789abcdef0123456789abcdef",
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn jobe_refuses_what_it_cannot_run_in_its_own_words() {
    let mut config = config(1, 0);
    config.max_source_bytes = 1000;
    let server = stored(config, 68_500).await;
    let jobe = CodeRunner { server: &server };
    let refused = |spec: Value| {
        let jobe = &jobe;
        async move { jobe.send(reqwest::Method::POST, "runs", Some(spec)).await }
    };
    let (status, answer) = refused(json!({"nothing": 1})).await;
    assert_eq!(
        (status, answer.as_str()),
        (400, Some("No run_spec attribute found"))
    );
    let (status, answer) =
        refused(json!({"run_spec": {"language_id": "COBOL", "sourcecode": "x"}})).await;
    assert_eq!(
        (status, answer.as_str()),
        (400, Some("Language 'cobol' is not known"))
    );
    let (status, answer) = refused(json!({"run_spec": {"language_id": "python3", "sourcecode": "x", "parameters": {"cputime": 1000}}})).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer.as_str().unwrap().contains("exceeds the maximum"),
        "{answer}"
    );
    let (status, _) =
        refused(json!({"run_spec": {"language_id": "python3", "sourcecode": "#".repeat(2000)}}))
            .await;
    assert_eq!(status, 413);
    let (status, answer) = jobe
        .send(
            reqwest::Method::PUT,
            "files/0123456789abcdef",
            Some(json!({"file_contents": "not base64!"})),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    let response = server
        .http
        .post(server.url(&format!("{JOBE}/runs")))
        .body("{\"run_spec\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // One slot, no queue: while a run holds it, the next is outcome 21 with HTTP 200.
    let busy = tokio::spawn({
        let http = server.http.clone();
        let url = server.url(&format!("{JOBE}/runs"));
        async move {
            let spec = json!({"run_spec": {"language_id": "python3", "sourcecode": "import time\ntime.sleep(3)", "parameters": {"cputime": 5}}});
            http.post(url).json(&spec).send().await.unwrap().status()
        }
    });
    while server.leftovers().is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let answer = jobe.outcome("python3", "print(1)", "", json!({})).await;
    assert_eq!(answer["outcome"], 21, "{answer}");
    assert_eq!(busy.await.unwrap(), 200);
}

#[tokio::test]
async fn piston_answers_bad_input_in_its_own_words() {
    let mut config = config(1, 8);
    config.max_source_bytes = 1000;
    let server = stored(config, 68_800).await;
    let execute = |body: String| {
        let server = &server;
        async move {
            // No Content-Type, as the npm client sends it.
            let response = server
                .http
                .post(server.url("/api/v2/execute"))
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let cases = [
        ("{\"language\": ".to_owned(), 400, "malformed JSON"),
        (json!({"version": "*", "files": [{"content": "x"}]}).to_string(), 400, "language is required"),
        (json!({"language": "cobol", "version": "*", "files": [{"content": "x"}]}).to_string(), 400, "cobol-* runtime is unknown"),
        (json!({"language": "python", "version": "2.7.0", "files": [{"content": "x"}]}).to_string(), 400, "python-2.7.0 runtime is unknown"),
        (json!({"language": "python", "version": "*", "files": []}).to_string(), 400, "files is required"),
        (json!({"language": "python", "version": "*", "files": [{"content": "!!", "encoding": "base64"}]}).to_string(), 400, "not valid base64"),
        (json!({"language": "python", "version": "*", "files": [{"content": "x".repeat(2000)}]}).to_string(), 413, "larger than"),
        (json!({"language": "python", "version": "*", "files": [{"content": "x"}], "run_timeout": 999_999}).to_string(), 400, "cannot exceed"),
        (json!({"language": "python", "version": "*", "files": [{"content": "x"}, {"name": "../up.py", "content": "y"}]}).to_string(), 400, "plain file name"),
    ];
    for (body, status, message) in cases {
        let (got, answer) = execute(body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        let text = answer["message"].as_str().unwrap_or_default();
        assert!(
            text.contains(message),
            "{body}: {text:?} should say {message:?}"
        );
    }
    // Files by name and in base64, the first the entry point.
    let body = json!({"language": "py", "version": "3.x", "files": [
        {"name": "main.py", "content": "import helper\nhelper.hi()"},
        {"name": "helper.py", "content": base64::engine::general_purpose::STANDARD.encode("def hi(): print('hi from a module')"), "encoding": "base64"},
    ]});
    let (status, answer) = execute(body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["run"]["stdout"], "hi from a module\n", "{answer}");
}
