//! What a submission is: one source file, or several (a validator's `validate.cc` and
//! `validate.h`, a Python package) with an entry point.

use std::io;
use std::path::Path;

use crate::registry::Language;

/// A name a file may have in the box: one path component, not `.` or `..`.
pub(crate) fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.contains(['/', '\0'])
        && name != "."
        && name != ".."
}

/// The files of a submission, by plain file name, and which one runs first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    pub files: Vec<(String, Vec<u8>)>,
    /// For interpreted languages with several files: the one to run. Found by convention
    /// when not given (see [`Submission::entry_for`]).
    pub entry: Option<String>,
}

impl Submission {
    /// One file, under the language's name for it (`main.c`, `main.py`, a Java public
    /// class's own).
    pub fn single(language: &Language, source: Vec<u8>) -> Submission {
        Submission {
            files: vec![(language.source_name_for(&source), source)],
            entry: None,
        }
    }

    /// A file, or every regular file of a directory (not recursing), as a submission.
    pub fn read(path: &Path) -> io::Result<Submission> {
        let name = |p: &Path| {
            p.file_name()
                .and_then(|n| n.to_str())
                .map(str::to_owned)
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{}: not a plain file name", p.display()),
                    )
                })
        };
        let mut files = Vec::new();
        let mut entry = None;
        if path.is_dir() {
            for entry in std::fs::read_dir(path)? {
                let entry = entry?.path();
                if entry.is_file() {
                    files.push((name(&entry)?, std::fs::read(&entry)?));
                }
            }
            files.sort();
        } else {
            files.push((name(path)?, std::fs::read(path)?));
            // A single file is its own entry point, whatever files are added to it later.
            entry = Some(name(path)?);
        }
        Ok(Submission { files, entry })
    }

    /// Adds files that are not there yet (a problem's `include/` files).
    pub fn with_files(mut self, extra: Vec<(String, Vec<u8>)>) -> Submission {
        for (name, bytes) in extra {
            if !self.files.iter().any(|(n, _)| *n == name) {
                self.files.push((name, bytes));
            }
        }
        self.files.sort();
        self
    }

    /// The files a compiler gets: those with the language's extensions.
    pub fn sources(&self, language: &Language) -> Vec<String> {
        self.files
            .iter()
            .map(|(name, _)| name)
            .filter(|name| language.owns(Path::new(name)))
            .cloned()
            .collect()
    }

    /// The file to run: the named entry point, else the only file of the language, else the
    /// language's conventional name (`main.py`), as the Kattis format has it.
    pub fn entry_for(&self, language: &Language) -> Option<String> {
        if let Some(entry) = &self.entry {
            return Some(entry.clone());
        }
        let sources = self.sources(language);
        match &sources[..] {
            [only] => Some(only.clone()),
            _ => sources.into_iter().find(|s| *s == language.source_file),
        }
    }

    /// Expands `{sources}`, `{entry}` and `{entry_stem}` (the entry without its extension: a
    /// Java class) in a command line. `{memory_mib}` is left for the run to fill in.
    pub(crate) fn expand(
        &self,
        language: &Language,
        argv: &[String],
    ) -> Result<Vec<String>, String> {
        let mut out = Vec::with_capacity(argv.len());
        for arg in argv {
            match arg.as_str() {
                "{sources}" => {
                    let sources = self.sources(language);
                    if sources.is_empty() {
                        return Err(format!(
                            "no {} source file (.{}) in the submission",
                            language.name,
                            language.extensions.join(", .")
                        ));
                    }
                    out.extend(sources);
                }
                "{entry}" | "{entry_stem}" => {
                    let entry = self.entry_for(language).ok_or_else(|| {
                        format!(
                            "cannot tell which file to run: name an entry point (`judgelet grade --entry FILE`), or call it {}",
                            language.source_file
                        )
                    })?;
                    out.push(match arg.as_str() {
                        "{entry}" => entry,
                        _ => entry
                            .rsplit_once('.')
                            .map_or(entry.clone(), |(stem, _)| stem.to_owned()),
                    });
                }
                _ => out.push(arg.clone()),
            }
        }
        Ok(out)
    }
}
