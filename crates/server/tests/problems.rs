//! Problems uploaded to a running server: graded at once, replaced, removed, kept through a
//! restart; hostile archives and broken packages refused with what is wrong, nothing
//! written outside the uploads.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::{config, Server};
use serde_json::{json, Value};
use server::{ApiKeys, ServerConfig};
use zip::write::SimpleFileOptions;

fn repo_problem(id: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../problems")
        .join(id)
}

fn uploading(uploads: &Path) -> ServerConfig {
    let mut config = config(2, 16);
    config.uploads_dir = Some(uploads.to_owned());
    config
}

async fn put(server: &Server, id: &str, zip: Vec<u8>, key: Option<&str>) -> (u16, Value) {
    let mut request = server
        .http
        .put(server.url(&format!("/problems/{id}")))
        .header("content-type", "application/zip")
        .body(zip);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn delete(server: &Server, id: &str) -> u16 {
    let response = server
        .http
        .delete(server.url(&format!("/problems/{id}")))
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

async fn grade(server: &Server, problem: &str, source: &str) -> (u16, Value) {
    server
        .json(
            "grade",
            json!({"language": "python", "problem": problem, "source": source}),
        )
        .await
}

const HELLO: &str = "print('Hello, World!')\n";

/// What is in `dir`, by name.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn an_uploaded_problem_is_graded_at_once_replaced_removed_and_kept_through_a_restart() {
    let data = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let uploads = data.path().join("problems");
    std::fs::create_dir(&uploads).unwrap();
    let hello = judge::archive::pack(&repo_problem("hello")).unwrap();
    {
        let server = Server::with(uploading(&uploads), 72_000, None).await;
        let (status, created) = put(&server, "greeting", hello.clone(), None).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(
            (&created["id"], &created["uploaded"], &created["tests"]),
            (&json!("greeting"), &json!(true), &json!(2))
        );
        let (_, list) = server.get("/problems").await;
        let listed = list
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == "greeting");
        assert_eq!(listed.unwrap()["name"], "Hello");
        let (status, report) = grade(&server, "greeting", HELLO).await;
        assert_eq!(
            (status, &report["verdict"]),
            (200, &json!("accepted")),
            "{report}"
        );

        // A new version: another package under the same id, graded by its own tests.
        let guess = judge::archive::pack(&repo_problem("guess")).unwrap();
        let (status, replaced) = put(&server, "greeting", guess, None).await;
        assert_eq!((status, &replaced["type"]), (200, &json!("interactive")));
        let (_, report) = grade(&server, "greeting", HELLO).await;
        assert_eq!(report["verdict"], "wrong_answer", "{report}");
        let (status, _) = put(&server, "greeting", hello.clone(), None).await;
        assert_eq!(status, 200);
        // The versions replaced are gone: one link and one version remain.
        assert_eq!(names(&uploads).len(), 2, "{:?}", names(&uploads));

        // The operator's problems are not an upload's to change.
        let (status, refused) = put(&server, "hello", hello.clone(), None).await;
        assert_eq!(status, 409, "{refused}");
        assert_eq!(delete(&server, "hello").await, 409);

        assert_eq!(put(&server, "gone", hello.clone(), None).await.0, 201);
        assert_eq!(delete(&server, "gone").await, 204);
        assert_eq!(grade(&server, "gone", HELLO).await.0, 404);
        assert_eq!(delete(&server, "gone").await, 404);
        let shown = server
            .http
            .get(server.url("/problems/gone"))
            .send()
            .await
            .unwrap();
        assert_eq!(shown.status(), 404);
        let shown: Value = shown.json().await.unwrap();
        assert_eq!(shown["error"]["code"], "unknown_problem", "{shown}");
        assert!(
            shown["error"]["known"]
                .as_array()
                .is_some_and(|known| known.contains(&json!("greeting"))),
            "{shown}"
        );
    }
    // What an upload interrupted by a crash leaves is cleared at the next start.
    std::fs::create_dir(uploads.join("half@0123")).unwrap();
    std::os::unix::fs::symlink("half@0123", uploads.join(".link-0123")).unwrap();

    let server = Server::with(uploading(&uploads), 72_300, None).await;
    let (status, report) = grade(&server, "greeting", HELLO).await;
    assert_eq!(
        (status, &report["verdict"]),
        (200, &json!("accepted")),
        "{report}"
    );
    assert_eq!(grade(&server, "gone", HELLO).await.0, 404);
    let left = names(&uploads);
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.contains(&"greeting".to_owned()), "{left:?}");
}

/// A zip of `entries`: a name, its bytes and its Unix mode (file type included).
fn zip_of(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes, mode) in entries {
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .external_attributes(mode << 16);
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

const FILE: u32 = 0o100_644;
const YAML: &[u8] = b"name: Tiny\nlimits:\n  time_limit: 1\n";

fn tiny(extra: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut entries: Vec<(&str, &[u8], u32)> = vec![
        ("problem.yaml", YAML, FILE),
        ("data/secret/1.in", b"", FILE),
        ("data/secret/1.ans", b"Hello, World!\n", FILE),
    ];
    entries.extend_from_slice(extra);
    zip_of(&entries)
}

#[tokio::test]
async fn hostile_archives_and_broken_packages_are_refused_with_the_reason() {
    let data = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let uploads = data.path().join("problems");
    std::fs::create_dir(&uploads).unwrap();
    let mut config = uploading(&uploads);
    config.max_upload_bytes = 4 << 20;
    config.archive_limits = judge::archive::ArchiveLimits {
        files: 50,
        bytes: 2 << 20,
        ratio: 500,
    };
    let server = Server::with(config, 72_600, None).await;
    let outside = std::env::temp_dir().join(format!("judgelet-escaped-{}", std::process::id()));
    let outside_name = outside.display().to_string();

    let symlink = {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, bytes) in [("problem.yaml", YAML), ("data/secret/1.ans", b"x\n")] {
            writer
                .start_file(name, SimpleFileOptions::default())
                .unwrap();
            writer.write_all(bytes).unwrap();
        }
        writer
            .add_symlink(
                "data/secret/1.in",
                "/etc/shadow",
                SimpleFileOptions::default(),
            )
            .unwrap();
        writer.finish().unwrap().into_inner()
    };
    let many: Vec<String> = (0..60)
        .map(|n| format!("data/secret/many-{n}.in"))
        .collect();
    let many_entries: Vec<(&str, &[u8], u32)> =
        many.iter().map(|n| (n.as_str(), &b""[..], FILE)).collect();
    let zeros = vec![0u8; 6 << 20];
    let varied: Vec<u8> = (0..3u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "an absolute path",
            tiny(&[(&outside_name, b"x", FILE)]),
            "an absolute path",
        ),
        (
            "a way out",
            tiny(&[("data/../../escaped", b"x", FILE)]),
            "leaving its folder",
        ),
        ("a symbolic link", symlink, "a symbolic link"),
        (
            "a device",
            tiny(&[("data/tty", b"", 0o020_666)]),
            "a special file",
        ),
        (
            "a fifo",
            tiny(&[("data/pipe", b"", 0o010_644)]),
            "a special file",
        ),
        (
            "a backslash",
            tiny(&[("data\\secret\\2.in", b"", FILE)]),
            "a backslash",
        ),
        ("too many files", tiny(&many_entries), "at most 50"),
        (
            "a bomb",
            tiny(&[("data/secret/2.in", &zeros, FILE)]),
            "inflates",
        ),
        (
            "too many bytes",
            tiny(&[("data/secret/2.in", &varied, FILE)]),
            "bytes once unpacked",
        ),
        (
            "not a zip",
            b"PK\x03\x04 not really".to_vec(),
            "not a zip archive",
        ),
        (
            "no problem.yaml",
            zip_of(&[("data/secret/1.in", b"", FILE)]),
            "no problem.yaml",
        ),
        (
            "two top folders",
            zip_of(&[
                ("a/problem.yaml", YAML, FILE),
                ("b/problem.yaml", YAML, FILE),
            ]),
            "no problem.yaml",
        ),
        ("no data", zip_of(&[("problem.yaml", YAML, FILE)]), "data/"),
        (
            "a wrong format version",
            zip_of(&[
                ("p/problem.yaml", b"problem_format_version: 1999\n", FILE),
                ("p/data/secret/1.in", b"", FILE),
                ("p/data/secret/1.ans", b"", FILE),
            ]),
            "problem.yaml: unknown problem_format_version 1999",
        ),
        (
            "a validator that does not compile",
            zip_of(&[
                ("problem.yaml", b"validation: custom\n", FILE),
                ("data/secret/1.in", b"", FILE),
                ("data/secret/1.ans", b"", FILE),
                (
                    "output_validators/check/check.c",
                    b"int main(void) { return syntax error; }\n",
                    FILE,
                ),
            ]),
            "does not compile",
        ),
        (
            "an input validator that does not compile",
            tiny(&[(
                "input_validators/range/range.cpp",
                b"int main() { undeclared(); }\n",
                FILE,
            )]),
            "does not compile",
        ),
    ];
    for (what, zip, said) in cases {
        let (status, refused) = put(&server, "tiny", zip, None).await;
        assert_eq!(status, 400, "{what}: {refused}");
        let message = refused["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(said), "{what}: {message}");
        assert!(
            !message.contains(&uploads.display().to_string()),
            "{what}: the server's paths: {message}"
        );
        assert_eq!(names(&uploads), Vec::<String>::new(), "{what} left files");
    }
    assert!(!outside.exists(), "written outside the uploads");
    assert!(!data.path().join("escaped").exists());
    assert_eq!(grade(&server, "tiny", HELLO).await.0, 404);

    // The body itself: too big, or not a zip by its type.
    let (status, _) = put(&server, "tiny", vec![0; 5 << 20], None).await;
    assert_eq!(status, 413);
    let response = server
        .http
        .put(server.url("/problems/tiny"))
        .header("content-type", "application/octet-stream")
        .body(tiny(&[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    for id in ["../x", ".hidden", "a b", &"x".repeat(65)] {
        let (status, _) = put(&server, &id.replace(' ', "%20"), tiny(&[]), None).await;
        assert!(status == 400 || status == 404, "{id}: {status}");
    }
    assert_eq!(names(&uploads), Vec::<String>::new());

    // And what passes is graded: the package in one top folder, an entry without a mode
    // (as DOS archivers make them), macOS Finder's litter beside it.
    let passing = zip_of(&[
        ("tiny/problem.yaml", YAML, FILE),
        ("tiny/data/secret/1.in", b"", 0),
        ("tiny/data/secret/1.ans", b"Hello, World!\n", FILE),
        ("__MACOSX/tiny/._problem.yaml", b"\0\x05\x16\x07", FILE),
    ]);
    let (status, created) = put(&server, "tiny", passing, None).await;
    assert_eq!(status, 201, "{created}");
    let (_, report) = grade(&server, "tiny", HELLO).await;
    assert_eq!(report["verdict"], "accepted", "{report}");
}

#[tokio::test]
async fn with_admin_keys_only_a_key_changes_problems() {
    let data = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut config = uploading(data.path());
    config.admin_keys = ApiKeys::parse("s3cret\n");
    let server = Server::with(config, 72_900, None).await;
    for key in [None, Some("wrong")] {
        let (status, refused) = put(&server, "tiny", tiny(&[]), key).await;
        assert_eq!(status, 401, "{refused}");
    }
    let response = server
        .http
        .delete(server.url("/problems/tiny"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(put(&server, "tiny", tiny(&[]), Some("s3cret")).await.0, 201);
    let response = server
        .http
        .delete(server.url("/problems/tiny"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
}
