//! The language registry: `languages.toml` read, checked and matched to the toolchains the
//! machine really has.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The registry this repository ships, embedded so the binary works from anywhere.
pub const DEFAULT_LANGUAGES_TOML: &str = include_str!("../../../languages.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageSpec {
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    extensions: Vec<String>,
    source: String,
    compile: Option<Vec<String>>,
    #[serde(default)]
    artifacts: Vec<String>,
    run: Vec<String>,
    version: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    readonly: Vec<PathBuf>,
    out_of_memory: Option<String>,
    source_name: Option<String>,
    #[serde(default)]
    refuse: Vec<RefusalSpec>,
    compile_error_exit: Option<i32>,
    #[serde(default)]
    warm: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefusalSpec {
    pattern: String,
    message: String,
}

/// Source text a language refuses before compiling, and why, in the words a person reads.
#[derive(Debug)]
pub struct Refusal {
    pub pattern: regex::Regex,
    pub message: String,
}

/// One language, as configured and as found on this machine.
#[derive(Debug)]
pub struct Language {
    /// The key of its table, used in requests and URLs (`c`, `cpp`, `python`).
    pub id: String,
    pub name: String,
    /// Other names, such as Kattis's `python3`.
    pub aliases: Vec<String>,
    pub extensions: Vec<String>,
    /// File name of a single-file submission in the box.
    pub source_file: String,
    pub compile: Option<Vec<String>>,
    pub artifacts: Vec<String>,
    pub run: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub readonly: Vec<PathBuf>,
    /// Text on stderr by which the runtime says it ran out of memory (a JVM's
    /// `OutOfMemoryError`): such a run is `memory_limit_exceeded`, as a cgroup kill is.
    pub out_of_memory: Option<String>,
    /// First line of the version command's output.
    pub version: String,
    /// Names a single source after what it declares (a Java public class): the pattern's
    /// first group, with the language's first extension.
    pub source_name: Option<regex::Regex>,
    pub refusals: Vec<Refusal>,
    /// The exit code by which a run says its sources did not compile (Python's launcher
    /// compiles them before running any): such a run is a compile error.
    pub compile_error_exit: Option<i32>,
    /// For a language with a warm runtime (`warm = true`): where `{entry}` is in `run`; the
    /// program started ahead is the command before it (`warm` has the protocol).
    pub warm_entry: Option<usize>,
}

/// What clients see of a language (`GET /languages`, `judgelet languages --json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanguageInfo {
    pub id: String,
    pub name: String,
    /// Other names requests may use for it.
    pub aliases: Vec<String>,
    pub version: String,
    pub extensions: Vec<String>,
    pub compiled: bool,
}

impl Language {
    /// Whether `path` has one of this language's extensions.
    pub fn owns(&self, path: &Path) -> bool {
        path.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| self.extensions.iter().any(|x| x == e))
    }

    /// The file name a single source goes by: after what it declares where the language
    /// says so (`Hello.java` for `public class Hello`), else the language's own.
    pub fn source_name_for(&self, source: &[u8]) -> String {
        let declared = self.source_name.as_ref().and_then(|pattern| {
            let text = String::from_utf8_lossy(source);
            let name = pattern.captures(&text)?.get(1)?.as_str().to_owned();
            Some(format!("{name}.{}", self.extensions.first()?))
        });
        declared.unwrap_or_else(|| self.source_file.clone())
    }

    /// Why a submission's sources cannot be run, if the language refuses them.
    pub fn refusal(&self, submission: &crate::Submission) -> Option<String> {
        let sources = submission.sources(self);
        submission
            .files
            .iter()
            .filter(|(name, _)| sources.contains(name))
            .find_map(|(name, bytes)| {
                let text = String::from_utf8_lossy(bytes);
                self.refusals
                    .iter()
                    .find(|r| r.pattern.is_match(&text))
                    .map(|r| format!("{name}: {}\n", r.message))
            })
    }

    pub fn info(&self) -> LanguageInfo {
        LanguageInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            aliases: self.aliases.clone(),
            version: self.version.clone(),
            extensions: self.extensions.clone(),
            compiled: self.compile.is_some(),
        }
    }
}

/// Languages by id. Languages whose toolchain is missing are left out, with the reason.
#[derive(Debug, Default)]
pub struct Registry {
    languages: BTreeMap<String, Arc<Language>>,
    unavailable: Vec<(String, String)>,
}

impl Registry {
    /// Parses and checks `text`, then asks each toolchain for its version. A language whose
    /// toolchain does not answer is unavailable, not an error: a machine may lack Java.
    pub fn load(text: &str) -> Result<Registry, Error> {
        let specs: BTreeMap<String, LanguageSpec> =
            toml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        for (id, spec) in &specs {
            check(id, spec).map_err(|e| Error::Config(format!("language {id}: {e}")))?;
        }
        let versions: Vec<Result<String, String>> = std::thread::scope(|s| {
            let probes: Vec<_> = specs
                .values()
                .map(|spec| s.spawn(|| probe_version(&spec.version)))
                .collect();
            probes
                .into_iter()
                .map(|p| {
                    p.join()
                        .unwrap_or_else(|_| Err("version probe panicked".into()))
                })
                .collect()
        });
        let mut registry = Registry::default();
        for ((id, spec), version) in specs.into_iter().zip(versions) {
            match version {
                Ok(version) => {
                    let warm_entry = spec
                        .warm
                        .then(|| spec.run.iter().position(|a| a == "{entry}"))
                        .flatten();
                    let language = Language {
                        id: id.clone(),
                        name: spec.name,
                        aliases: spec.aliases,
                        extensions: spec.extensions,
                        source_file: spec.source,
                        compile: spec.compile,
                        artifacts: spec.artifacts,
                        run: spec.run,
                        env: spec.env,
                        readonly: spec.readonly,
                        out_of_memory: spec.out_of_memory,
                        version,
                        source_name: spec.source_name.as_deref().map(pattern).transpose()?,
                        refusals: spec
                            .refuse
                            .into_iter()
                            .map(|r| {
                                Ok(Refusal {
                                    pattern: pattern(&r.pattern)?,
                                    message: r.message,
                                })
                            })
                            .collect::<Result<_, Error>>()?,
                        compile_error_exit: spec.compile_error_exit,
                        warm_entry,
                    };
                    registry.languages.insert(id, Arc::new(language));
                }
                Err(reason) => {
                    tracing::warn!(language = %id, %reason, "language unavailable");
                    registry.unavailable.push((id, reason));
                }
            }
        }
        Ok(registry)
    }

    /// A language by id or alias, in any case (`Python`, `py`, `C`).
    pub fn get(&self, name: &str) -> Option<&Arc<Language>> {
        self.languages.get(name).or_else(|| {
            self.languages.values().find(|l| {
                l.id.eq_ignore_ascii_case(name)
                    || l.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
            })
        })
    }

    /// The language of a file, from its extension.
    pub fn for_path(&self, path: &Path) -> Option<&Arc<Language>> {
        self.languages.values().find(|l| l.owns(path))
    }

    pub fn languages(&self) -> impl Iterator<Item = &Arc<Language>> {
        self.languages.values()
    }

    /// Configured languages whose toolchain is missing, with why.
    pub fn unavailable(&self) -> &[(String, String)] {
        &self.unavailable
    }

    pub fn ids(&self) -> Vec<String> {
        self.languages.keys().cloned().collect()
    }
}

fn check(id: &str, spec: &LanguageSpec) -> Result<(), String> {
    let plain = |name: &str| !name.is_empty() && !name.contains('/') && name != "." && name != "..";
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("ids are ASCII letters, digits, '-' and '_'".into());
    }
    if !plain(&spec.source) {
        return Err(format!(
            "source {:?} must be a plain file name",
            spec.source
        ));
    }
    if let Some(bad) = spec.artifacts.iter().find(|a| !plain(a)) {
        return Err(format!(
            "artifact {bad:?} must be a plain file name or pattern"
        ));
    }
    let absolute = |cmd: &[String], what: &str| match cmd.first() {
        Some(program) if program.starts_with('/') => Ok(()),
        Some(program) => Err(format!(
            "{what} program {program:?} must be an absolute path"
        )),
        None => Err(format!("{what} command is empty")),
    };
    absolute(&spec.run, "run")?;
    if spec.warm {
        let entry = spec.run.iter().position(|a| a == "{entry}");
        let before = entry.map(|at| &spec.run[..at]);
        if spec.compile.is_some()
            || before.is_none_or(|b| b.iter().any(|a| a == "{sources}" || a == "{entry_stem}"))
        {
            return Err(
                "a warm runtime is for an interpreted language whose run command has \
                 {entry}, with no {sources} or {entry_stem} before it"
                    .into(),
            );
        }
    }
    absolute(&spec.version, "version")?;
    if let Some(compile) = &spec.compile {
        absolute(compile, "compile")?;
        if spec.artifacts.is_empty() {
            return Err("a compiled language must name its artifacts".into());
        }
    }
    Ok(())
}

fn pattern(text: &str) -> Result<regex::Regex, Error> {
    regex::RegexBuilder::new(text)
        .multi_line(true)
        .build()
        .map_err(|e| Error::Config(format!("pattern {text:?}: {e}")))
}

/// Runs a trusted toolchain's version command on the host, with an empty environment.
fn probe_version(command: &[String]) -> Result<String, String> {
    let output = std::process::Command::new(&command[0])
        .args(&command[1..])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .map_err(|e| format!("{}: {e}", command[0]))?;
    if !output.status.success() {
        return Err(format!(
            "{} exited with {}",
            command.join(" "),
            output.status
        ));
    }
    // Some toolchains (older javac) print their version on stderr.
    let text = match output.stdout.is_empty() {
        true => output.stderr,
        false => output.stdout,
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .ok_or_else(|| format!("{} printed no version", command.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_registry_has_c_cpp_and_python() {
        let registry = Registry::load(DEFAULT_LANGUAGES_TOML).unwrap();
        for id in ["c", "cpp", "python"] {
            let language = registry.get(id).unwrap_or_else(|| panic!("{id} missing"));
            assert!(!language.version.is_empty());
        }
        assert!(registry.get("c").unwrap().version.contains("gcc"));
        assert!(registry
            .get("python")
            .unwrap()
            .version
            .starts_with("Python 3"));
    }

    #[test]
    fn languages_come_from_extensions() {
        let registry = Registry::load(DEFAULT_LANGUAGES_TOML).unwrap();
        let id = |p: &str| registry.for_path(Path::new(p)).map(|l| l.id.clone());
        assert_eq!(registry.get("python3").unwrap().id, "python");
        assert_eq!(id("a/b/hello.c").as_deref(), Some("c"));
        assert_eq!(id("x.cc").as_deref(), Some("cpp"));
        assert_eq!(id("x.py").as_deref(), Some("python"));
        assert_eq!(id("x.rb"), None);
        assert_eq!(id("Makefile"), None);
    }

    #[test]
    fn a_missing_toolchain_makes_a_language_unavailable_not_an_error() {
        let text = r#"
            [ghost]
            name = "Ghost"
            extensions = ["gh"]
            source = "main.gh"
            run = ["/nonexistent/ghost", "main.gh"]
            version = ["/nonexistent/ghost", "--version"]
        "#;
        let registry = Registry::load(text).unwrap();
        assert!(registry.get("ghost").is_none());
        assert_eq!(registry.unavailable()[0].0, "ghost");
    }

    #[test]
    fn relative_programs_and_path_names_are_refused() {
        let bad_run = r#"
            [x]
            name = "X"
            extensions = ["x"]
            source = "main.x"
            run = ["python3", "main.x"]
            version = ["/usr/bin/true"]
        "#;
        let err = Registry::load(bad_run).unwrap_err().to_string();
        assert!(err.contains("absolute path"), "{err}");
        let bad_source = bad_run
            .replace("\"python3\"", "\"/usr/bin/python3\"")
            .replace("source = \"main.x\"", "source = \"../main.x\"");
        let err = Registry::load(&bad_source).unwrap_err().to_string();
        assert!(err.contains("plain file name"), "{err}");
    }
}
