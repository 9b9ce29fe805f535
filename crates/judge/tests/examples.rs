//! The example problems shipped in `problems/`: every submission gets the verdict its folder
//! expects, and grading reports what a person needs.

mod common;

use std::sync::Arc;

use common::{grade_python, grader, problem, scratch};
use judge::{GradeOptions, ProblemPackage, Verdict};
use lang::Submission;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_submission_gets_its_folders_verdict() {
    for id in ["hello", "average", "anagram", "guess", "relay"] {
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
async fn problem_yaml_mistakes_are_warnings_naming_file_key_and_value_and_verify_refuses_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("problem.yaml"),
        "name: Mistakes\nauthr: Someone\nlimits:\n  time_limit: fast\n  memory: lots\n  tme: 3\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("data/secret")).unwrap();
    std::fs::write(dir.path().join("data/secret/1.in"), "").unwrap();
    std::fs::write(dir.path().join("data/secret/1.ans"), "hi\n").unwrap();
    let package = Arc::new(ProblemPackage::load(dir.path()).unwrap());
    let warnings = package.warnings.join("\n");
    for said in [
        "unknown key `authr` (value `Someone`)",
        "limits.time_limit: `fast` is not a number of seconds",
        "limits.memory: `lots` is not a whole number of MiB",
        "unknown key `limits.tme` (value `3`)",
    ] {
        assert!(warnings.contains(said), "{said:?} not in:\n{warnings}");
    }
    assert!(warnings.contains("problem.yaml"), "{warnings}");
    let refused = judge::verify::verify(grader(), &package, &GradeOptions::new(2), &|_| {})
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        refused.contains("4 mistake(s)") && refused.contains("`fast`"),
        "{refused}"
    );
    // The repository's own problems are clean.
    for id in ["hello", "average", "anagram", "guess", "relay"] {
        assert_eq!(problem(id).warnings, Vec::<String>::new(), "{id}");
    }
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

#[tokio::test]
async fn a_testlib_checker_gets_input_output_answer_and_its_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("problem.yaml"),
        "name: double\nvalidation: custom\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("data/sample")).unwrap();
    std::fs::create_dir_all(root.join("data/secret")).unwrap();
    for (group, input, answer) in [
        ("sample", "2", "4"),
        ("secret", "21", "42"),
        ("secret", "-1", "-2"),
    ] {
        let name = format!("data/{group}/{input}");
        std::fs::write(root.join(format!("{name}.in")), input).unwrap();
        std::fs::write(root.join(format!("{name}.ans")), answer).unwrap();
    }
    let checker = root.join("output_validators/checker");
    std::fs::create_dir_all(&checker).unwrap();
    // A stand-in for testlib.h: its presence marks a testlib checker.
    std::fs::write(
        checker.join("testlib.h"),
        "#include <cstdio>\n#include <cstdlib>\n",
    )
    .unwrap();
    std::fs::write(
        checker.join("checker.cpp"),
        r#"#include "testlib.h"
int main(int argc, char **argv) {
    // checker input output answer: 0 ok, 1 wrong, 3 the checker's own failure.
    long in, out, ans;
    FILE *i = fopen(argv[1], "r"), *o = fopen(argv[2], "r"), *a = fopen(argv[3], "r");
    if (fscanf(i, "%ld", &in) != 1 || fscanf(a, "%ld", &ans) != 1) return 3;
    if (in < 0) return 3;
    if (fscanf(o, "%ld", &out) != 1 || out != ans) { fprintf(stderr, "expected %ld, read another\n", ans); return 1; }
    return 0;
}
"#,
    )
    .unwrap();
    let package = Arc::new(ProblemPackage::load(root).unwrap());
    let grade = |source: &'static str| {
        let package = package.clone();
        async move {
            let submission = Submission {
                files: vec![("a.py".into(), source.as_bytes().to_vec())],
                entry: None,
            };
            let mut options = GradeOptions::new(2);
            options.stop_at_first_failure = false;
            grader()
                .grade(&package, "python", submission, &options, &|_| {})
                .await
                .unwrap()
        }
    };
    let report = grade("print(2 * int(input()))").await;
    let verdicts: Vec<Verdict> = report.tests.iter().map(|t| t.verdict).collect();
    // The checker fails on the negative case: the problem's fault, not a verdict.
    assert_eq!(
        verdicts,
        [Verdict::Accepted, Verdict::InternalError, Verdict::Accepted]
    );
    let report = grade("print(3)").await;
    assert_eq!(report.verdict, Verdict::WrongAnswer);
    assert_eq!(
        report.tests[0].hint.as_deref(),
        Some("expected 4, read another")
    );
}

/// DOMjudge files a submission's expected results in its source (`@EXPECTED_RESULTS@:`),
/// wherever the file is: any one of them agrees, none of them disagrees, an unknown one is
/// said.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domjudge_expected_results_headers_are_what_a_submission_must_get() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("problem.yaml"),
        "name: Echo\nlimits:\n  time_limit: 1\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("data/secret")).unwrap();
    std::fs::write(root.join("data/secret/1.in"), "7\n").unwrap();
    std::fs::write(root.join("data/secret/1.ans"), "7\n").unwrap();
    let submission = |name: &str, source: &str| {
        let path = root.join("submissions").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, source).unwrap();
    };
    // Outside the format's folders, the header alone says what to expect.
    submission(
        "mixed/slow_or_wrong.py",
        "# @EXPECTED_RESULTS@: WRONG-ANSWER, TIMELIMIT\nprint(8)\n",
    );
    submission(
        "mixed/right.py",
        "# @EXPECTED_RESULTS@: correct\nprint(input())\n",
    );
    submission(
        "mixed/loops.py",
        "# @EXPECTED_RESULTS@: timelimit,RUN_ERROR\nwhile True: pass\n",
    );
    // The header wins over the folder.
    submission(
        "accepted/claims_wrong.py",
        "# @EXPECTED_RESULTS@: WRONG-ANSWER\nprint(input())\n",
    );
    submission(
        "mixed/unknown.py",
        "# @EXPECTED_RESULTS@: PERFECT\nprint(7)\n",
    );
    submission("mixed/no_header.py", "print(7)\n");
    let package = Arc::new(ProblemPackage::load(root).unwrap());
    let verification = judge::verify::verify(grader(), &package, &GradeOptions::new(2), &|_| {})
        .await
        .unwrap();
    let checked = |name: &str| {
        verification
            .checked
            .iter()
            .find(|c| c.submission == name)
            .unwrap_or_else(|| panic!("{name} not checked: {verification:#?}"))
    };
    let wrong = checked("mixed/slow_or_wrong.py");
    assert!(wrong.agrees, "{wrong:?}");
    assert_eq!(wrong.expected, "wrong_answer or time_limit_exceeded");
    assert!(checked("mixed/right.py").agrees);
    assert!(checked("mixed/loops.py").agrees);
    let claims = checked("accepted/claims_wrong.py");
    assert!(
        !claims.agrees,
        "accepted, but its header expects WA: {claims:?}"
    );
    let skipped = |name: &str| {
        verification
            .skipped
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, why)| why.clone())
            .unwrap_or_else(|| panic!("{name} not skipped: {verification:#?}"))
    };
    assert!(skipped("mixed/unknown.py").contains("\"PERFECT\""));
    assert!(skipped("mixed/no_header.py").contains("@EXPECTED_RESULTS@"));
}

/// `input_validators/`: each validator on every input, with the case's
/// `input_validator_flags`; 42 accepts, anything else rejects with what it said; one that
/// does not compile is the package's fault, named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_validators_check_every_input_with_their_flags() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("problem.yaml"),
        "name: Range\nlimits:\n  time_limit: 1\n",
    )
    .unwrap();
    for (name, input) in [("1", "7\n"), ("2", "700\n"), ("3", "seven\n")] {
        std::fs::create_dir_all(root.join("data/secret")).unwrap();
        std::fs::write(root.join(format!("data/secret/{name}.in")), input).unwrap();
        std::fs::write(root.join(format!("data/secret/{name}.ans")), input).unwrap();
    }
    std::fs::write(
        root.join("data/secret/testdata.yaml"),
        "input_validator_flags: max=100\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("input_validators")).unwrap();
    std::fs::write(
        root.join("input_validators/range.py"),
        "import sys\nlimit = int(sys.argv[1].split('=')[1])\ntext = sys.stdin.read()\n\
         try:\n    n = int(text)\nexcept ValueError:\n    print('not a number:', text.strip()); sys.exit(43)\n\
         sys.exit(42 if 1 <= n <= limit else 43)\n",
    )
    .unwrap();
    std::fs::write(root.join("input_validators/format.ctd"), "INT(1, 100)\n").unwrap();
    let package = Arc::new(ProblemPackage::load(root).unwrap());
    let options = GradeOptions::new(2);
    let (checks, skipped) = judge::verify::validate_inputs(grader(), &package, &options)
        .await
        .unwrap();
    let verdicts: Vec<(&str, bool)> = checks.iter().map(|c| (c.case.as_str(), c.valid)).collect();
    assert_eq!(
        verdicts,
        [("secret/1", true), ("secret/2", false), ("secret/3", false)],
        "{checks:#?}"
    );
    assert!(checks
        .iter()
        .all(|c| c.validator == "input_validators/range.py"));
    assert!(checks[1].message.contains("exit 43"), "{checks:#?}");
    assert!(
        checks[2].message.contains("not a number: seven"),
        "{checks:#?}"
    );
    assert!(
        skipped
            .iter()
            .any(|(name, why)| name == "input_validators/format.ctd"
                && why.contains("checktestdata")),
        "{skipped:?}"
    );

    std::fs::write(root.join("input_validators/broken.c"), "int main( {\n").unwrap();
    let package = Arc::new(ProblemPackage::load(root).unwrap());
    let error = judge::verify::validate_inputs(grader(), &package, &options)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("broken.c") && error.contains("does not compile"),
        "{error}"
    );
}

/// A submission that falls silent (closes its output: the validator reads the end and
/// rejects) and afterwards crashes or overruns gets its own verdict; one that then exits
/// cleanly keeps the rejection. The other order: a validator that rejects while the
/// submission still waits for it makes a wrong answer, whatever the submission does next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interactive_submission_that_falls_silent_then_fails_gets_its_own_verdict() {
    let cases = [
        // Silent first, then its own end decides.
        (
            "import os\nos.close(1)\nwhile True: pass\n",
            Verdict::TimeLimitExceeded,
        ),
        (
            "import os, time\nos.close(1)\ntime.sleep(0.5)\nraise SystemExit(3)\n",
            Verdict::RunTimeError,
        ),
        (
            "import os, time\nos.close(1)\ntime.sleep(0.5)\n",
            Verdict::WrongAnswer,
        ),
        // The validator first: it rejects "0", the submission then reads the end and fails.
        ("print('zero', flush=True)\ninput()\n", Verdict::WrongAnswer),
    ];
    for (source, expected) in cases {
        let submission = Submission {
            files: vec![("main.py".into(), source.as_bytes().to_vec())],
            entry: None,
        };
        let report = grader()
            .grade(
                &problem("guess"),
                "python",
                submission,
                &GradeOptions::new(2),
                &|_| {},
            )
            .await
            .unwrap();
        assert_eq!(report.verdict, expected, "{source}\n{report:#?}");
    }
}

#[tokio::test]
async fn a_multi_pass_case_runs_the_submission_again_on_what_its_validator_wrote() {
    let relay = problem("relay");
    assert_eq!(relay.passes, Some(2));
    let report = grade_python(&relay, "print(input().strip()[::-1])\n").await;
    assert_eq!(report.verdict, Verdict::Accepted, "{report:#?}");
    // Wrong in the second pass only: the sample's hint says which.
    let report = grade_python(
        &relay,
        "w = input().strip()\nprint(w[::-1] if w < w[::-1] else 'x')\n",
    )
    .await;
    assert_eq!(report.verdict, Verdict::WrongAnswer, "{report:#?}");
    let sample = &report.tests[0];
    assert_eq!(
        sample.hint.as_deref(),
        Some("pass 2: expected 'abc', got 'x'"),
        "{sample:#?}"
    );
    assert_eq!(sample.message.as_deref(), Some("in pass 2"));
}

#[tokio::test]
async fn a_multi_pass_validator_that_overruns_its_passes_or_rejects_with_a_next_pass_is_a_judge_error(
) {
    let package = |validator: &str| {
        scratch(&[
            ("problem.yaml", "type: multi-pass\nproblem_format_version: 2023-07-draft\nname: Loop\nlimits:\n  time_limit: 1\n  validation_passes: 3\n"),
            ("data/secret/1.in", "1\n"),
            ("data/secret/1.ans", "\n"),
            ("output_validator/v.py", validator),
        ])
    };
    let always_again =
        "import sys\nopen(sys.argv[3] + '/nextpass.in', 'w').write('1\\n')\nsys.exit(42)\n";
    let (_dir, looping) = package(always_again);
    assert_eq!(looping.passes, Some(3));
    let report = grade_python(&looping, "print(input())\n").await;
    assert_eq!(report.verdict, Verdict::InternalError, "{report:#?}");
    let rejecting =
        "import sys\nopen(sys.argv[3] + '/nextpass.in', 'w').write('1\\n')\nsys.exit(43)\n";
    let (_dir, rejecting) = package(rejecting);
    let report = grade_python(&rejecting, "print(input())\n").await;
    assert_eq!(report.verdict, Verdict::InternalError, "{report:#?}");
    // The time limit is each pass's: three passes of 0.4 s fit a limit of 1 s.
    let report = grade_python(&looping, "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass\nprint(1)\n").await;
    assert_eq!(
        report.verdict,
        Verdict::InternalError,
        "ran all three passes: {report:#?}"
    );
    assert!(report.cpu_time_ms < 1000.0, "{report:#?}");
}

#[test]
fn multi_pass_needs_a_validator_that_can_write_the_next_pass() {
    for (yaml, validator, said) in [
        ("type: multi-pass\n", false, "needs an output validator"),
        ("type: [multi-pass, interactive]\n", true, "not supported"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let yaml = format!("problem_format_version: 2023-07-draft\n{yaml}");
        std::fs::write(dir.path().join("problem.yaml"), yaml).unwrap();
        if validator {
            std::fs::create_dir_all(dir.path().join("output_validator")).unwrap();
            std::fs::write(dir.path().join("output_validator/v.py"), "").unwrap();
        }
        let error = ProblemPackage::load(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("problem.yaml") && error.contains(said),
            "{error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_yaml_says_what_each_submission_must_get_case_by_case() {
    let spin = "import time\nn = int(input())\nwhile n >= 3: pass\nprint(n)\n";
    let (_dir, package) = scratch(&[
        ("problem.yaml", "problem_format_version: 2023-07-draft\nname: Echo\nlimits:\n  time_limit: 1\n"),
        ("data/sample/1.in", "1\n"),
        ("data/sample/1.ans", "1\n"),
        ("data/secret/1-easy.in", "2\n"),
        ("data/secret/1-easy.ans", "2\n"),
        ("data/secret/2-hard.in", "3\n"),
        ("data/secret/2-hard.ans", "3\n"),
        ("submissions/accepted/right.py", "print(input())\n"),
        ("submissions/time_limit_exceeded/easy_only.py", spin),
        ("submissions/wrong_answer/hard_wrong.py", "n = int(input())\nprint(n if n < 3 else 0)\n"),
        ("submissions/rejected/claims.py", "print(input())\n"),
        ("submissions/slow/maybe.py", "print(input())\n"),
        (
            "submissions/submissions.yaml",
            "time_limit_exceeded/easy_only.py:\n  sample:\n    permitted: [AC]\n  secret/*-easy:\n    permitted: [AC]\n  secret/*-hard:\n    required: [TLE]\n\
             wrong_answer/{hard_wrong,other}.py:\n  secret/*-easy:\n    permitted: [AC]\n\
             rejected:\n  language: python\n\
             rejected/claims.py:\n  permitted: [AC, WA]\n\
             slow/maybe.py:\n  permitted: [AC, TLE]\n",
        ),
    ]);
    let verification = judge::verify::verify(grader(), &package, &GradeOptions::new(2), &|_| {})
        .await
        .unwrap();
    let by_name = |name: &str| {
        verification
            .checked
            .iter()
            .find(|c| c.submission == name)
            .unwrap_or_else(|| panic!("{name}: {verification:#?}"))
    };
    for name in [
        "accepted/right.py",
        "time_limit_exceeded/easy_only.py",
        "wrong_answer/hard_wrong.py",
        "slow/maybe.py",
    ] {
        assert!(by_name(name).agrees, "{:#?}", by_name(name));
    }
    let tle = by_name("time_limit_exceeded/easy_only.py");
    assert_eq!(
        tle.expected,
        "permitted AC,TLE required TLE; sample: permitted AC; secret/*-easy: permitted AC; secret/*-hard: required TLE"
    );
    // Every case ran, though the first failure would have stopped grading.
    let claims = by_name("rejected/claims.py");
    assert!(!claims.agrees);
    assert_eq!(
        claims.unmet.as_deref(),
        Some("no case got what is required (required RTE,TLE,WA)")
    );
    assert_eq!(verification.disagreements().count(), 1);
}

/// A Python syntax error is a compile error, told before any case counts, whatever the
/// problem's kind: batch, interactive or multi-pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_syntax_error_is_a_compile_error_with_its_line_in_every_kind_of_problem() {
    for id in ["average", "guess", "relay"] {
        let package = problem(id);
        let report = grade_python(&package, "import sys\n\ndef solve(:\n    pass\n").await;
        assert_eq!(report.verdict, Verdict::CompileError, "{id}: {report:?}");
        let compile = report.compile.as_ref().expect("the compile report");
        assert!(!compile.success, "{id}");
        assert!(
            compile.output.contains("/box/main.py\", line 3")
                && compile.output.contains("SyntaxError"),
            "{id}: {}",
            compile.output
        );
        assert!(report.tests.is_empty(), "{id}: {:?}", report.tests);
        assert_eq!(report.skipped, package.cases.len(), "{id}");
    }
}
