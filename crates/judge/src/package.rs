//! Problem packages in the Kattis / ICPC problem package format: legacy, 2023-07 and 2025-09,
//! as real archives mix them.
//!
//! Read: `problem.yaml` (name, type, validation, validator flags, limits, constants),
//! `.timelimit`, `data/` (sample first, then secret; nested groups with `testdata.yaml` or
//! `test_group.yaml`, inherited downwards; symlinked test files), `output_validators/` or
//! `output_validator/`, `include/`, and `submissions/` for verification.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_norway::Value;

use crate::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Legacy,
    V2023_07,
    V2025_09,
}

/// Where a problem's time limit came from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "source")]
pub enum TimeLimitSource {
    /// `limits.time_limit` in `problem.yaml`.
    ProblemYaml,
    /// A `.timelimit` file (DOMjudge and BAPCtools convention).
    TimelimitFile,
    /// The slowest accepted submission of the package times the multiplier, rounded up to a
    /// whole second, as problemtools derives it.
    Derived {
        slowest_accepted_ms: f64,
        multiplier: f64,
    },
    /// Nothing said; the configured default.
    Default,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimeLimit {
    pub seconds: f64,
    #[serde(flatten)]
    pub source: TimeLimitSource,
}

/// The bytes of a test file: in the package, or given inline by a request.
#[derive(Clone, Debug)]
pub enum TestData {
    File(PathBuf),
    Inline(Arc<[u8]>),
}

impl TestData {
    pub async fn read(&self) -> Result<Vec<u8>, Error> {
        match self {
            TestData::File(path) => tokio::fs::read(path)
                .await
                .map_err(|e| error(path, e.to_string())),
            TestData::Inline(bytes) => Ok(bytes.to_vec()),
        }
    }
}

/// One test case.
#[derive(Clone, Debug)]
pub struct TestCase {
    /// Path under `data/` without extension, e.g. `secret/subtask1/01`.
    pub name: String,
    pub input: TestData,
    pub answer: TestData,
    pub sample: bool,
    /// Output validator flags in force for this case: the problem's, then its groups'.
    pub validator_flags: Vec<String>,
    /// Input validator flags in force for this case (`input_validator_flags`).
    pub input_validator_flags: Vec<String>,
}

/// How a group of test cases is judged and scored (`testdata.yaml`), inherited downwards.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupSettings {
    /// Stop at the first rejected item of the group (`on_reject: break`, the default).
    pub on_reject_break: bool,
    pub accept_score: f64,
    pub reject_score: f64,
    pub range: Option<(f64, f64)>,
    pub grader_flags: Vec<String>,
    pub validator_flags: Vec<String>,
    pub input_validator_flags: Vec<String>,
}

impl Default for GroupSettings {
    fn default() -> Self {
        GroupSettings {
            on_reject_break: true,
            accept_score: 1.0,
            reject_score: 0.0,
            range: None,
            grader_flags: Vec::new(),
            validator_flags: Vec::new(),
            input_validator_flags: Vec::new(),
        }
    }
}

/// A group of test data: `data/` itself, `data/sample`, `data/secret/subtask1`, ...
#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    pub settings: GroupSettings,
    pub items: Vec<Item>,
}

#[derive(Clone, Debug)]
pub enum Item {
    /// An index into [`ProblemPackage::cases`].
    Case(usize),
    Group(Group),
}

#[derive(Clone, Debug)]
pub enum ValidatorSpec {
    Default,
    /// A directory of sources, compiled by the toolchain like a submission. `testlib`: a
    /// testlib checker (Codeforces, Polygon), recognised by the `testlib.h` beside it.
    Custom {
        dir: PathBuf,
        testlib: bool,
    },
}

/// A problem, loaded and checked.
#[derive(Clone, Debug)]
pub struct ProblemPackage {
    /// The directory name.
    pub id: String,
    pub dir: PathBuf,
    pub name: String,
    pub format: Format,
    pub scoring: bool,
    pub interactive: bool,
    /// At most this many passes per test case when the problem is multi-pass (its output
    /// validator writes the next pass's input to `nextpass.in`); `None`: one pass.
    pub passes: Option<u32>,
    /// `None` when the package says nothing: derive it, or use the default.
    pub time_limit: Option<TimeLimit>,
    /// Multiplier from the slowest accepted submission to a derived time limit.
    pub ac_to_time_limit: f64,
    /// How far past the time limit verification still runs a submission: accepted ones must
    /// be clearly within the limit and TLE ones clearly beyond (`time_safety_margin`,
    /// `time_limit_to_tle`).
    pub tle_margin: f64,
    pub memory_mib: Option<u64>,
    pub output_mib: Option<u64>,
    pub validator: ValidatorSpec,
    pub constants: BTreeMap<String, String>,
    pub cases: Vec<TestCase>,
    pub root: Group,
    /// The problem statement, as its author wrote it.
    pub statement: Option<Statement>,
    /// Sample interactions of an interactive problem (`data/sample/*.interaction`), to show
    /// a person how the conversation goes.
    pub interactions: Vec<Interaction>,
    /// Input validators (`input_validators/` or the legacy `input_format_validators/`): each
    /// a directory of sources or a single source, run by `judgelet verify` on every input.
    pub input_validators: Vec<PathBuf>,
    /// Mistakes in `problem.yaml` that loading let pass (an unknown key, a limit that is not
    /// a number), each naming the file, the key and the value: a warning when grading, an
    /// error when verifying.
    pub warnings: Vec<String>,
}

/// A sample interaction: what the submission and the judge said, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Interaction {
    pub name: String,
    pub lines: Vec<InteractionLine>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InteractionLine {
    /// `submission` (a `>` line: what the submission prints) or `judge` (`<`: what it reads).
    pub from: &'static str,
    pub text: String,
}

/// `data/sample/*.interaction`, in name order.
fn load_interactions(dir: &Path) -> Vec<Interaction> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir.join("data/sample"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "interaction"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let text = fs::read_to_string(&path).ok()?;
            let lines = text
                .lines()
                .filter_map(|line| match line.split_at_checked(1)? {
                    (">", said) => Some(("submission", said)),
                    ("<", said) => Some(("judge", said)),
                    _ => None,
                })
                .map(|(from, text)| InteractionLine {
                    from,
                    text: text.to_owned(),
                })
                .collect();
            let name = path.file_stem()?.to_string_lossy().into_owned();
            Some(Interaction { name, lines })
        })
        .collect()
}

/// A problem statement from `problem_statement/`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Statement {
    /// `markdown` or `latex`.
    pub format: String,
    pub text: String,
}

/// The English (or only) statement: Markdown preferred, LaTeX otherwise.
fn load_statement(dir: &Path) -> Option<Statement> {
    let folder = ["problem_statement", "statement"]
        .iter()
        .map(|d| dir.join(d))
        .find(|d| d.is_dir())?;
    let candidates = [
        ("problem.en.md", "markdown"),
        ("problem.md", "markdown"),
        ("problem.en.tex", "latex"),
        ("problem.tex", "latex"),
    ];
    candidates.iter().find_map(|(file, format)| {
        let text = fs::read_to_string(folder.join(file)).ok()?;
        Some(Statement {
            format: (*format).to_owned(),
            text,
        })
    })
}

fn error(path: &Path, message: impl Into<String>) -> Error {
    Error::Package {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn words(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Sequence(items)) => items.iter().filter_map(scalar).collect(),
        Some(other) => scalar(other).into_iter().collect(),
        None => Vec::new(),
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn read_yaml(path: &Path) -> Result<Option<Value>, Error> {
    match fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Ok(Some(Value::Mapping(Default::default()))),
        Ok(text) => serde_norway::from_str(&text)
            .map(Some)
            .map_err(|e| error(path, format!("invalid YAML: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(error(path, e.to_string())),
    }
}

fn list_input_validators(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = ["input_validators", "input_format_validators"]
        .iter()
        .flat_map(|d| fs::read_dir(dir.join(d)).into_iter().flatten().flatten())
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    found.sort();
    found
}

/// A digest of every file of the package directory, names and contents, in name order
/// (symbolic links followed, as loading follows them).
pub fn content_hash(dir: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    fn walk(dir: &Path, root: &Path, hash: &mut Sha256) -> std::io::Result<()> {
        let mut entries: Vec<PathBuf> = fs::read_dir(dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for path in entries {
            let name = path.strip_prefix(root).unwrap_or(&path).to_string_lossy();
            if path.is_dir() {
                hash.update(format!("d\0{name}\0"));
                walk(&path, root, hash)?;
            } else {
                let bytes = fs::read(&path)?;
                hash.update(format!("f\0{name}\0{}\0", bytes.len()));
                hash.update(&bytes);
            }
        }
        Ok(())
    }
    let mut hash = Sha256::new();
    walk(dir, dir, &mut hash)?;
    Ok(hex::encode(hash.finalize()))
}

/// Keys of `problem.yaml` in the legacy, 2023-07 and 2025-09 formats.
const KEYS: &[&str] = &[
    "problem_format_version",
    "type",
    "name",
    "uuid",
    "version",
    "credits",
    "author",
    "source",
    "source_url",
    "license",
    "rights_owner",
    "embargo_until",
    "limits",
    "validation",
    "validator_flags",
    "grading",
    "scoring",
    "keywords",
    "languages",
    "constants",
    "allow_file_writing",
];

/// Keys of `limits`, each a number: how it reads in a message.
const LIMITS: &[(&str, &str)] = &[
    ("time_limit", "a number of seconds"),
    ("time_multiplier", "a number"),
    ("time_safety_margin", "a number"),
    ("time_resolution", "a number of seconds"),
    ("memory", "a whole number of MiB"),
    ("output", "a whole number of MiB"),
    ("code", "a whole number of KiB"),
    ("compilation_time", "a number of seconds"),
    ("compilation_memory", "a whole number of MiB"),
    ("validation_time", "a number of seconds"),
    ("validation_memory", "a whole number of MiB"),
    ("validation_output", "a whole number of MiB"),
    ("validation_passes", "a whole number"),
];

/// What loading a `problem.yaml` lets pass but its author should hear of.
fn check_yaml(yaml: &Value, path: &Path) -> Vec<String> {
    let mut warnings = Vec::new();
    let show = |value: &Value| {
        serde_norway::to_string(value)
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let Value::Mapping(map) = yaml else {
        return vec![format!(
            "{}: not a mapping of keys to values",
            path.display()
        )];
    };
    for (key, value) in map {
        let key = scalar(key).unwrap_or_default();
        if !KEYS.contains(&key.as_str()) {
            warnings.push(format!(
                "{}: unknown key `{key}` (value `{}`): ignored",
                path.display(),
                show(value)
            ));
        }
    }
    match yaml.get("limits") {
        None | Some(Value::Null) => {}
        Some(Value::Mapping(limits)) => {
            for (key, value) in limits {
                let key = scalar(key).unwrap_or_default();
                if key == "time_multipliers" {
                    if let Value::Mapping(multipliers) = value {
                        for (name, value) in multipliers {
                            if number(Some(value)).is_none() {
                                warnings.push(format!(
                                    "{}: limits.time_multipliers.{}: `{}` is not a number: ignored",
                                    path.display(),
                                    scalar(name).unwrap_or_default(),
                                    show(value)
                                ));
                            }
                        }
                    }
                    continue;
                }
                match LIMITS.iter().find(|(name, _)| *name == key) {
                    None => warnings.push(format!(
                        "{}: unknown key `limits.{key}` (value `{}`): ignored",
                        path.display(),
                        show(value)
                    )),
                    Some((_, kind)) => {
                        let whole = kind.starts_with("a whole");
                        let ok = number(Some(value))
                            .is_some_and(|n| n >= 0.0 && (!whole || n.fract() == 0.0));
                        if !ok {
                            warnings.push(format!(
                                "{}: limits.{key}: `{}` is not {kind}: ignored, the default applies",
                                path.display(),
                                show(value)
                            ));
                        }
                    }
                }
            }
        }
        Some(other) => warnings.push(format!(
            "{}: limits: `{}` is not a mapping of limits: ignored",
            path.display(),
            show(other)
        )),
    }
    warnings
}

impl ProblemPackage {
    /// The package in `dir`, whose name is its id.
    pub fn load(dir: &Path) -> Result<ProblemPackage, Error> {
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        ProblemPackage::load_as(dir, &id)
    }

    /// The package in `dir`, known as `id` (an uploaded package's directory is named by
    /// its version).
    pub fn load_as(dir: &Path, id: &str) -> Result<ProblemPackage, Error> {
        let yaml_path = dir.join("problem.yaml");
        let yaml = read_yaml(&yaml_path)?
            .ok_or_else(|| error(&yaml_path, "missing: a problem package needs problem.yaml"))?;
        let warnings = check_yaml(&yaml, &yaml_path);
        let get = |key: &str| yaml.get(key);
        let format = match get("problem_format_version").and_then(scalar).as_deref() {
            None | Some("legacy") => Format::Legacy,
            Some(v) if v.starts_with("2023-07") => Format::V2023_07,
            Some(v) if v.starts_with("2025-09") => Format::V2025_09,
            Some(other) => {
                return Err(error(
                    &yaml_path,
                    format!("unknown problem_format_version {other}"),
                ))
            }
        };
        let name = match get("name") {
            Some(Value::Mapping(names)) => names
                .get("en")
                .or_else(|| names.values().next())
                .and_then(scalar),
            Some(other) => scalar(other),
            None => None,
        };
        let types = words(get("type"));
        let validation = words(get("validation"));
        let interactive = types.iter().any(|t| t == "interactive")
            || validation.iter().any(|v| v == "interactive");
        let scoring =
            types.iter().any(|t| t == "scoring") || validation.iter().any(|v| v == "score");
        let multi_pass =
            types.iter().any(|t| t == "multi-pass") || validation.iter().any(|v| v == "multi-pass");

        let limits = get("limits");
        let limit = |key: &str| limits.and_then(|l| l.get(key));
        let timelimit_file = dir.join(".timelimit");
        let time_limit = match number(limit("time_limit")) {
            Some(seconds) => Some(TimeLimit {
                seconds,
                source: TimeLimitSource::ProblemYaml,
            }),
            None => match fs::read_to_string(&timelimit_file) {
                Ok(text) => Some(TimeLimit {
                    seconds: text.trim().parse().map_err(|_| {
                        error(
                            &timelimit_file,
                            format!("not a number of seconds: {text:?}"),
                        )
                    })?,
                    source: TimeLimitSource::TimelimitFile,
                }),
                Err(_) => None,
            },
        };
        let multipliers = limit("time_multipliers");
        let tle_margin = match format {
            Format::Legacy => number(limit("time_safety_margin")).unwrap_or(2.0),
            _ => number(multipliers.and_then(|m| m.get("time_limit_to_tle"))).unwrap_or(1.5),
        };
        let ac_to_time_limit = match format {
            Format::Legacy => number(limit("time_multiplier")).unwrap_or(5.0),
            _ => number(multipliers.and_then(|m| m.get("ac_to_time_limit"))).unwrap_or(2.0),
        };

        let custom_dir = ["output_validator", "output_validators"]
            .iter()
            .map(|d| dir.join(d))
            .find(|d| d.is_dir());
        let custom = match format {
            Format::Legacy => validation.iter().any(|v| v == "custom"),
            _ => custom_dir.is_some(),
        };
        let validator = match (custom, custom_dir) {
            (false, _) => ValidatorSpec::Default,
            (true, Some(dir)) => {
                let dir = single_subdirectory(&dir)?;
                let testlib = dir.join("testlib.h").is_file();
                ValidatorSpec::Custom { dir, testlib }
            }
            (true, None) => {
                return Err(error(
                    dir,
                    "validation is custom, but there is no output_validators/",
                ))
            }
        };
        let constants = match get("constants") {
            Some(Value::Mapping(map)) => map
                .iter()
                .filter_map(|(k, v)| Some((scalar(k)?, scalar(v)?)))
                .collect(),
            _ => BTreeMap::new(),
        };

        let passes = match multi_pass {
            false => None,
            true if interactive => {
                return Err(error(
                    &yaml_path,
                    "interactive multi-pass problems are not supported (multi-pass ones are)",
                ))
            }
            true if !matches!(validator, ValidatorSpec::Custom { testlib: false, .. }) => {
                return Err(error(
                    &yaml_path,
                    "a multi-pass problem needs an output validator that writes nextpass.in \
                     (output_validator/, not a testlib checker)",
                ))
            }
            true => Some(number(limit("validation_passes")).map_or(2, |n| n.max(1.0) as u32)),
        };
        let problem_flags = words(get("validator_flags"));
        let mut cases = Vec::new();
        let data = dir.join("data");
        if !data.is_dir() {
            return Err(error(&data, "missing: a problem package needs data/"));
        }
        let root_settings = GroupSettings {
            validator_flags: problem_flags,
            ..GroupSettings::default()
        };
        let root = load_group(&data, "", &root_settings, &mut cases, true)?;
        if cases.is_empty() {
            return Err(error(&data, "no test cases (.in with .ans) under data/"));
        }
        Ok(ProblemPackage {
            id: id.to_owned(),
            dir: dir.to_owned(),
            name: name.unwrap_or_else(|| id.to_owned()),
            format,
            scoring,
            interactive,
            passes,
            time_limit,
            ac_to_time_limit,
            tle_margin,
            memory_mib: number(limit("memory")).map(|m| m as u64),
            output_mib: number(limit("output")).map(|m| m as u64),
            validator,
            constants,
            cases,
            root,
            statement: load_statement(dir),
            input_validators: list_input_validators(dir),
            interactions: match interactive {
                true => load_interactions(dir),
                false => Vec::new(),
            },
            warnings,
        })
    }

    /// A problem given inline by a request: its tests are all samples (the requester wrote
    /// them), judged by the default validator with `validator_flags`.
    pub fn inline(
        tests: Vec<(Vec<u8>, Vec<u8>)>,
        validator_flags: Vec<String>,
        time_limit_s: Option<f64>,
    ) -> Result<ProblemPackage, Error> {
        if tests.is_empty() {
            return Err(error(Path::new("tests"), "no tests given"));
        }
        let cases: Vec<TestCase> = tests
            .into_iter()
            .enumerate()
            .map(|(i, (input, answer))| TestCase {
                name: format!("{}", i + 1),
                input: TestData::Inline(input.into()),
                answer: TestData::Inline(answer.into()),
                sample: true,
                validator_flags: validator_flags.clone(),
                input_validator_flags: Vec::new(),
            })
            .collect();
        crate::validator::Flags::parse(&validator_flags)
            .map_err(|m| error(Path::new("validator_flags"), m))?;
        let settings = GroupSettings {
            validator_flags,
            ..GroupSettings::default()
        };
        Ok(ProblemPackage {
            id: "inline".into(),
            dir: PathBuf::new(),
            name: "inline tests".into(),
            format: Format::V2025_09,
            scoring: false,
            interactive: false,
            passes: None,
            time_limit: time_limit_s.map(|seconds| TimeLimit {
                seconds,
                source: TimeLimitSource::ProblemYaml,
            }),
            ac_to_time_limit: 2.0,
            tle_margin: 1.5,
            memory_mib: None,
            output_mib: None,
            validator: ValidatorSpec::Default,
            constants: BTreeMap::new(),
            root: Group {
                name: String::new(),
                settings,
                items: (0..cases.len()).map(Item::Case).collect(),
            },
            cases,
            statement: None,
            interactions: Vec::new(),
            input_validators: Vec::new(),
            warnings: Vec::new(),
        })
    }

    /// Files of `include/default` and `include/<language>` for a submission, with the
    /// problem's constants substituted.
    pub fn include_files(&self, language_names: &[&str]) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let mut files = Vec::new();
        for name in std::iter::once("default").chain(language_names.iter().copied()) {
            let dir = self.dir.join("include").join(name);
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_file() {
                    let bytes = fs::read(&path).map_err(|e| error(&path, e.to_string()))?;
                    files.push((
                        entry.file_name().to_string_lossy().into_owned(),
                        self.substitute(bytes),
                    ));
                }
            }
        }
        Ok(files)
    }

    /// `{{name}}` replaced by the problem's constants (2025-09), in judge-side sources.
    pub fn substitute(&self, bytes: Vec<u8>) -> Vec<u8> {
        if self.constants.is_empty() {
            return bytes;
        }
        let Ok(mut text) = String::from_utf8(bytes.clone()) else {
            return bytes;
        };
        for (name, value) in &self.constants {
            text = text.replace(&format!("{{{{{name}}}}}"), value);
        }
        text.into_bytes()
    }

    /// The sample test cases, for showing a problem.
    pub fn samples(&self) -> impl Iterator<Item = &TestCase> {
        self.cases.iter().filter(|c| c.sample)
    }
}

/// `output_validator/` may hold the sources, or one directory that does.
fn single_subdirectory(dir: &Path) -> Result<PathBuf, Error> {
    let entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| error(dir, e.to_string()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    match &entries[..] {
        [only] if only.is_dir() => Ok(only.clone()),
        _ => Ok(dir.to_owned()),
    }
}

fn apply_settings(dir: &Path, parent: &GroupSettings) -> Result<GroupSettings, Error> {
    let mut settings = parent.clone();
    for file in ["testdata.yaml", "test_group.yaml"] {
        let path = dir.join(file);
        let Some(yaml) = read_yaml(&path)? else {
            continue;
        };
        if let Some(on_reject) = yaml.get("on_reject").and_then(scalar) {
            settings.on_reject_break = match on_reject.as_str() {
                "break" => true,
                "continue" => false,
                other => {
                    return Err(error(
                        &path,
                        format!("on_reject must be break or continue, not {other}"),
                    ))
                }
            };
        }
        if let Some(score) = number(yaml.get("accept_score")) {
            settings.accept_score = score;
        }
        if let Some(score) = number(yaml.get("reject_score")) {
            settings.reject_score = score;
        }
        if let Some(range) = yaml.get("range").and_then(scalar) {
            let bounds: Vec<f64> = range
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect();
            match &bounds[..] {
                [lo, hi] => settings.range = Some((*lo, *hi)),
                _ => {
                    return Err(error(
                        &path,
                        format!("range must be two numbers, not {range:?}"),
                    ))
                }
            }
        }
        if yaml.get("grader_flags").is_some() {
            settings.grader_flags = words(yaml.get("grader_flags"));
        }
        if yaml.get("input_validator_flags").is_some() {
            settings.input_validator_flags = words(yaml.get("input_validator_flags"));
        }
        for key in ["output_validator_flags", "output_validator_args"] {
            if yaml.get(key).is_some() {
                let mut flags = parent.validator_flags.clone();
                flags.extend(words(yaml.get(key)));
                settings.validator_flags = flags;
            }
        }
    }
    Ok(settings)
}

fn load_group(
    dir: &Path,
    name: &str,
    parent: &GroupSettings,
    cases: &mut Vec<TestCase>,
    is_root: bool,
) -> Result<Group, Error> {
    let settings = apply_settings(dir, parent)?;
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| error(dir, e.to_string()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    if is_root {
        // Samples first, then secret; other folders (invalid inputs, ...) are not test data.
        entries.retain(|p| {
            p.is_dir()
                && matches!(
                    p.file_name().and_then(|n| n.to_str()),
                    Some("sample" | "secret")
                )
        });
    }
    let mut items = Vec::new();
    for path in entries {
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let child = match name {
            "" => file_name.clone(),
            _ => format!("{name}/{file_name}"),
        };
        if path.is_dir() {
            items.push(Item::Group(load_group(
                &path, &child, &settings, cases, false,
            )?));
        } else if path.extension().is_some_and(|e| e == "in") {
            let answer = path.with_extension("ans");
            if !answer.exists() {
                return Err(error(&path, "test input without an answer file (.ans)"));
            }
            let (path, answer) = (follow_placeholder(&path), follow_placeholder(&answer));
            let stem = child.trim_end_matches(".in").to_owned();
            cases.push(TestCase {
                sample: stem.starts_with("sample"),
                name: stem,
                input: TestData::File(path),
                answer: TestData::File(answer),
                validator_flags: settings.validator_flags.clone(),
                input_validator_flags: settings.input_validator_flags.clone(),
            });
            items.push(Item::Case(cases.len() - 1));
        }
    }
    Ok(Group {
        name: name.to_owned(),
        settings,
        items,
    })
}

/// A symlink that git checked out as a plain file holds its target path instead of the data
/// (where links are not supported, or after a copy that lost them). Test data archives often
/// link shared cases between groups, so such a file is followed: one short line, a relative
/// path, naming a file that exists beside it.
fn follow_placeholder(path: &Path) -> PathBuf {
    let target = fs::metadata(path)
        .ok()
        .filter(|m| m.is_file() && m.len() < 1024)
        .and_then(|_| fs::read_to_string(path).ok())
        .filter(|text| !text.contains('\n') && text.contains('/') && !text.starts_with('/'))
        .map(|text| path.parent().unwrap_or(Path::new(".")).join(text.trim()))
        .filter(|target| target.is_file());
    target.unwrap_or_else(|| path.to_owned())
}
