//! The example problems shipped in `problems/`: every submission gets the verdict its folder
//! expects, and grading reports what a person needs.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use judge::{GradeOptions, Grader, GraderConfig, ProblemPackage, Verdict};
use lang::{Submission, Toolchain, ToolchainConfig};
use sandbox::{Sandbox, SandboxConfig};

fn grader() -> &'static Grader {
    static GRADER: OnceLock<(Grader, tempfile::TempDir)> = OnceLock::new();
    &GRADER
        .get_or_init(|| {
            let cache = tempfile::tempdir_in("/dev/shm").unwrap();
            let toolchain = Toolchain::new(
                Sandbox::new(SandboxConfig::default()).unwrap(),
                ToolchainConfig {
                    cache_dir: cache.path().to_owned(),
                    ..ToolchainConfig::default()
                },
            )
            .unwrap();
            (
                Grader::new(Arc::new(toolchain), GraderConfig::default()),
                cache,
            )
        })
        .0
}

fn problem(id: &str) -> Arc<ProblemPackage> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../problems")
        .join(id);
    Arc::new(ProblemPackage::load(&dir).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_submission_gets_its_folders_verdict() {
    for id in ["hello", "average", "anagram", "guess"] {
        let verification =
            judge::verify::verify(grader(), &problem(id), &GradeOptions::new(2), &|_| {})
                .await
                .unwrap();
        assert!(verification.checked.len() >= 3, "{id}: {verification:?}");
        let bad: Vec<_> = verification.disagreements().collect();
        assert!(bad.is_empty(), "{id}: {bad:#?}");
    }
}

#[tokio::test]
async fn a_custom_validator_accepts_any_right_answer_and_tells_the_team_why_not() {
    let anagram = &problem("anagram");
    let grade = |source: &'static str| async move {
        let submission = Submission {
            files: vec![("a.py".into(), source.as_bytes().to_vec())],
            entry: None,
        };
        let mut options = GradeOptions::new(2);
        options.stop_at_first_failure = false;
        grader()
            .grade(anagram, "python", submission, &options, &|_| {})
            .await
            .unwrap()
    };
    // Answers differ from the .ans files and are still right.
    let report =
        grade("w = input()\nprint('impossible' if len(set(w)) == 1 else w[1:] + w[0])").await;
    assert_eq!(report.verdict, Verdict::Accepted, "{report:#?}");
    let report = grade("print(input())").await;
    assert_eq!(report.verdict, Verdict::WrongAnswer);
    let sample = &report.tests[0];
    assert_eq!(sample.message.as_deref(), Some("not a valid answer"));
    assert!(sample
        .hint
        .as_deref()
        .unwrap()
        .contains("is not a different rearrangement"));
    // Secret cases keep the judge's message to the judges.
    assert!(report
        .tests
        .iter()
        .filter(|t| !t.sample)
        .all(|t| t.hint.is_none()));
    assert_eq!(report.tests.len(), 3, "all cases run when asked");
}

#[tokio::test]
async fn a_submission_exiting_42_is_a_run_time_error_not_an_accept() {
    let submission = Submission {
        files: vec![("a.py".into(), b"import sys\nsys.exit(42)".to_vec())],
        entry: None,
    };
    let report = grader()
        .grade(
            &problem("hello"),
            "python",
            submission,
            &GradeOptions::new(2),
            &|_| {},
        )
        .await
        .unwrap();
    assert_eq!(report.verdict, Verdict::RunTimeError);
    assert_eq!(report.tests[0].exit_code, Some(42));
}

#[test]
fn bad_packages_get_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = ProblemPackage::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("problem.yaml"), "{err}");
    std::fs::write(dir.path().join("problem.yaml"), "name: x\n").unwrap();
    std::fs::create_dir_all(dir.path().join("data/secret")).unwrap();
    std::fs::write(dir.path().join("data/secret/1.in"), "1\n").unwrap();
    let err = ProblemPackage::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("1.in") && err.contains(".ans"), "{err}");
    std::fs::write(dir.path().join("problem.yaml"), "name: [unclosed\n").unwrap();
    let err = ProblemPackage::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("invalid YAML"), "{err}");
}

#[tokio::test]
async fn a_validator_that_does_not_compile_is_the_problems_fault() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("problem.yaml"),
        "name: broken\nvalidation: custom\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("data/secret")).unwrap();
    std::fs::write(root.join("data/secret/1.in"), "").unwrap();
    std::fs::write(root.join("data/secret/1.ans"), "").unwrap();
    std::fs::create_dir_all(root.join("output_validators/v")).unwrap();
    std::fs::write(root.join("output_validators/v/validate.cc"), "int main( {").unwrap();
    let package = Arc::new(ProblemPackage::load(root).unwrap());
    let submission = Submission {
        files: vec![("a.py".into(), b"print(1)".to_vec())],
        entry: None,
    };
    let err = grader()
        .grade(
            &package,
            "python",
            submission,
            &GradeOptions::new(1),
            &|_| {},
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, judge::Error::ValidatorCompile { .. }),
        "{err}"
    );
}
