//! `judgelet problems`: course staff add, replace, list and remove the problems of a running
//! `judgelet serve`, which keeps them through a restart.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::Served;

fn repo_problem(id: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../problems")
        .join(id)
}

fn problems(served: &Served, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_judgelet"))
        .args(["problems", "--server"])
        .arg(format!("http://{}", served.address))
        .args(args)
        .output()
        .unwrap()
}

fn said(output: &Output) -> (Option<i32>, String, String) {
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn grade(served: &Served, problem: &str) -> serde_json::Value {
    let body = serde_json::json!({
        "language": "python",
        "problem": problem,
        "source": "print('Hello, World!')",
    });
    let (status, report) = served.call_as(
        "POST /function/grade",
        "application/json",
        &body.to_string(),
    );
    assert_eq!(status, 200, "{report}");
    report
}

#[test]
fn course_staff_add_list_and_remove_the_problems_of_a_running_server() {
    let data = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data_dir = data.path().to_str().unwrap();
    let first = Served::start(73_000, &["--data-dir", data_dir]);

    let hello = repo_problem("hello");
    let (code, out, err) = said(&problems(
        &first,
        &["add", hello.to_str().unwrap(), "--id", "greeting"],
    ));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.starts_with("added greeting  \"Hello\"  pass-fail, 2 tests, 1 s"),
        "{out}"
    );
    assert_eq!(grade(&first, "greeting")["verdict"], "accepted");

    // A zip, named by its file; its problem.yaml's mistakes are warnings.
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let package = scratch.path().join("shout");
    let copy = Command::new("cp")
        .arg("-r")
        .arg(&hello)
        .arg(&package)
        .status()
        .unwrap();
    assert!(copy.success());
    let yaml = std::fs::read_to_string(package.join("problem.yaml")).unwrap();
    std::fs::write(
        package.join("problem.yaml"),
        format!("{yaml}colour: blue\n"),
    )
    .unwrap();
    let zip = scratch.path().join("shout.zip");
    std::fs::write(&zip, judge::archive::pack(&package).unwrap()).unwrap();
    let (code, out, err) = said(&problems(&first, &["add", zip.to_str().unwrap()]));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("added shout "), "{out}");
    assert!(
        err.contains("warning: problem.yaml: unknown key `colour`"),
        "{err}"
    );
    let (code, out, _) = said(&problems(&first, &["add", zip.to_str().unwrap()]));
    assert_eq!(code, Some(0));
    assert!(out.starts_with("replaced shout "), "{out}");

    // Refused by the server, which says why: exit 1.
    std::fs::remove_file(package.join("problem.yaml")).unwrap();
    let (code, _, err) = said(&problems(&first, &["add", package.to_str().unwrap()]));
    assert_eq!(code, Some(1));
    assert!(
        err.contains("the server refused (400 Bad Request)") && err.contains("no problem.yaml"),
        "{err}"
    );

    // Through a restart.
    drop(first);
    let second = Served::start(73_100, &["--data-dir", data_dir]);
    let (code, out, _) = said(&problems(&second, &["list"]));
    assert_eq!(code, Some(0));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("greeting ") && lines[0].ends_with(", uploaded"),
        "{out}"
    );
    assert!(lines[1].starts_with("shout "), "{out}");
    assert_eq!(grade(&second, "greeting")["verdict"], "accepted");

    let (code, out, _) = said(&problems(&second, &["remove", "greeting"]));
    assert_eq!((code, out.as_str()), (Some(0), "removed greeting\n"));
    let (code, _, err) = said(&problems(&second, &["remove", "greeting"]));
    assert_eq!(code, Some(1));
    assert!(err.contains("unknown problem \"greeting\""), "{err}");
    let (_, out, _) = said(&problems(&second, &["list", "--json"]));
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");

    // No server there: exit 3.
    drop(second);
    let output = Command::new(env!("CARGO_BIN_EXE_judgelet"))
        .args(["problems", "--server", "http://127.0.0.1:1", "list"])
        .output()
        .unwrap();
    let (code, _, err) = said(&output);
    assert_eq!(code, Some(3));
    assert!(
        err.contains("cannot reach the server at http://127.0.0.1:1"),
        "{err}"
    );
}
