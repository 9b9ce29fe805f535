//! The problems a server grades against: the operator's problems directory, which the server
//! only reads, and the packages uploaded to it, which it keeps in its data directory.
//!
//! An upload is unpacked into a directory of its own, `<uploads>/<id>@<version>/`, checked,
//! and then made current by replacing the link `<uploads>/<id>` with one to it: a rename, so
//! a crash leaves either the old version current or the new one, never a mix. Gradings hold
//! the package they started with; a version replaced or removed is deleted once none does
//! (or, at the latest, when the server next starts: a version no link names is removed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use judge::archive::{ArchiveError, ArchiveLimits};
use judge::ProblemPackage;

use crate::error::ApiError;

#[derive(Clone)]
struct Problem {
    package: Arc<ProblemPackage>,
    uploaded: bool,
}

pub struct Catalogue {
    /// Where uploads are kept: `None` in function mode, which takes none.
    uploads: Option<PathBuf>,
    problems: RwLock<BTreeMap<String, Problem>>,
    /// Uploaded versions replaced or removed, deleted once no grading holds them.
    retired: Mutex<Vec<Arc<ProblemPackage>>>,
    /// One upload or removal at a time.
    changing: tokio::sync::Mutex<()>,
}

/// An upload unpacked and loaded, not yet current. Dropped without being installed, its
/// directory goes.
pub struct Staged {
    id: String,
    version: Version,
    pub package: ProblemPackage,
}

/// An upload's directory, deleted when dropped unless kept.
struct Version {
    dir: PathBuf,
    keep: bool,
}

impl Version {
    /// `said` naming files inside the package, not where this server keeps it.
    fn relative(&self, said: impl std::fmt::Display) -> String {
        said.to_string()
            .replace(&format!("{}/", self.dir.display()), "")
    }

    /// A refusal of the package for `reason`.
    fn refused(&self, reason: impl std::fmt::Display) -> ApiError {
        ApiError::BadRequest(format!("the package is refused: {}", self.relative(reason)))
    }
}

impl Staged {
    /// The package refused for `reason` (a check after loading failed).
    pub fn refused(&self, reason: impl std::fmt::Display) -> ApiError {
        self.version.refused(reason)
    }

    /// What loading the package warned of (mistakes in `problem.yaml`).
    pub fn warnings(&self) -> Vec<String> {
        let warnings = &self.package.warnings;
        warnings.iter().map(|w| self.version.relative(w)).collect()
    }
}

impl Drop for Version {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// What an installation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Created,
    Replaced,
}

/// Whether `id` may name an uploaded problem: letters, digits, `-`, `_` and `.`, not first,
/// at most 64, so that it is a safe directory name and fits a URL unescaped.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Catalogue {
    /// The problems of `fixed` (every directory with a `problem.yaml`, two levels deep) and
    /// those uploaded to `uploads` before. A package that does not load is logged, naming the
    /// file, and left out.
    pub fn load(fixed: Option<&Path>, uploads: Option<PathBuf>) -> Catalogue {
        let mut problems = BTreeMap::new();
        if let Some(dir) = fixed {
            for package in load_tree(dir) {
                problems.insert(
                    package.id.clone(),
                    Problem {
                        package: Arc::new(package),
                        uploaded: false,
                    },
                );
            }
        }
        if let Some(dir) = &uploads {
            if let Err(e) = std::fs::create_dir_all(dir) {
                tracing::error!(dir = %dir.display(), error = %e, "cannot keep uploaded problems");
            }
            for package in load_uploads(dir) {
                if problems.contains_key(&package.id) {
                    tracing::warn!(problem = %package.id, "an uploaded problem has the id of one in the problems directory, which wins");
                    continue;
                }
                problems.insert(
                    package.id.clone(),
                    Problem {
                        package: Arc::new(package),
                        uploaded: true,
                    },
                );
            }
        }
        tracing::info!(count = problems.len(), "problems loaded");
        Catalogue {
            uploads,
            problems: RwLock::new(problems),
            retired: Mutex::new(Vec::new()),
            changing: tokio::sync::Mutex::new(()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Problem>> {
        self.problems.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, id: &str) -> Result<Arc<ProblemPackage>, ApiError> {
        self.entry(id).map(|(package, _)| package)
    }

    /// Problem `id`, with whether it was uploaded.
    pub fn entry(&self, id: &str) -> Result<(Arc<ProblemPackage>, bool), ApiError> {
        let problems = self.read();
        match problems.get(id) {
            Some(p) => Ok((p.package.clone(), p.uploaded)),
            None => Err(ApiError::UnknownProblem {
                problem: id.to_owned(),
                known: problems.keys().cloned().collect(),
            }),
        }
    }

    /// Every problem, by id, with whether it was uploaded.
    pub fn all(&self) -> Vec<(Arc<ProblemPackage>, bool)> {
        self.read()
            .values()
            .map(|p| (p.package.clone(), p.uploaded))
            .collect()
    }

    fn uploads(&self) -> Result<&Path, ApiError> {
        self.uploads.as_deref().ok_or_else(|| {
            ApiError::NotFound("this server takes no uploaded problems (a single function is stateless: give it --problems)".into())
        })
    }

    /// Refuses a change to `id` when it is not an upload's to make.
    fn changeable(&self, id: &str) -> Result<(), ApiError> {
        if !valid_id(id) {
            return Err(ApiError::BadRequest(format!(
                "{id:?} is not a problem id: up to 64 letters, digits, `-`, `_` or `.`, \
                 beginning with a letter or digit"
            )));
        }
        match self.read().get(id) {
            Some(problem) if !problem.uploaded => Err(ApiError::Conflict(format!(
                "problem {id:?} comes from the server's problems directory: change it there"
            ))),
            _ => Ok(()),
        }
    }

    /// Unpacks `zip` as the next version of `id` and loads it. Blocking: file work.
    pub fn stage(&self, id: &str, zip: &[u8], limits: &ArchiveLimits) -> Result<Staged, ApiError> {
        self.changeable(id)?;
        let dir = self
            .uploads()?
            .join(format!("{id}@{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&dir)
            .map_err(|e| ApiError::Internal(format!("{}: {e}", dir.display())))?;
        let version = Version { dir, keep: false };
        judge::archive::unpack(zip, &version.dir, limits).map_err(|e| match e {
            ArchiveError::Io(e) => ApiError::Internal(e.to_string()),
            refused => ApiError::BadRequest(format!("the archive is refused: {refused}")),
        })?;
        sync_tree(&version.dir).map_err(|e| ApiError::Internal(e.to_string()))?;
        let package = ProblemPackage::load_as(&version.dir, id).map_err(|e| version.refused(e))?;
        Ok(Staged {
            id: id.to_owned(),
            version,
            package,
        })
    }

    /// Makes `staged` the current version of its problem.
    pub async fn install(&self, staged: Staged) -> Result<(Arc<ProblemPackage>, Change), ApiError> {
        let Staged {
            id,
            mut version,
            package,
        } = staged;
        let _changing = self.changing.lock().await;
        self.changeable(&id)?;
        let uploads = self.uploads()?;
        let name = version
            .dir
            .file_name()
            .map(|n| n.to_owned())
            .ok_or_else(|| ApiError::Internal("a staged upload without a name".into()))?;
        let link = uploads.join(format!(".link-{}", uuid::Uuid::new_v4().simple()));
        let switch = || -> std::io::Result<()> {
            std::os::unix::fs::symlink(&name, &link)?;
            std::fs::rename(&link, uploads.join(&id))?;
            std::fs::File::open(uploads)?.sync_all()
        };
        if let Err(e) = switch() {
            let _ = std::fs::remove_file(&link);
            return Err(ApiError::Internal(format!("cannot install {id}: {e}")));
        }
        version.keep = true;
        let package = Arc::new(package);
        let previous = self
            .problems
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                id,
                Problem {
                    package: package.clone(),
                    uploaded: true,
                },
            );
        let change = match previous {
            Some(previous) => {
                self.retire(previous.package);
                Change::Replaced
            }
            None => Change::Created,
        };
        Ok((package, change))
    }

    /// Removes the uploaded problem `id`.
    pub async fn remove(&self, id: &str) -> Result<(), ApiError> {
        let _changing = self.changing.lock().await;
        self.changeable(id)?;
        let uploads = self.uploads()?;
        self.get(id)?;
        let unlink = || -> std::io::Result<()> {
            std::fs::remove_file(uploads.join(id))?;
            std::fs::File::open(uploads)?.sync_all()
        };
        unlink().map_err(|e| ApiError::Internal(format!("cannot remove {id}: {e}")))?;
        let removed = self
            .problems
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        if let Some(removed) = removed {
            self.retire(removed.package);
        }
        Ok(())
    }

    /// Sets `package` aside for deletion, and deletes the versions set aside that no
    /// grading holds any more.
    fn retire(&self, package: Arc<ProblemPackage>) {
        let mut retired = self.retired.lock().unwrap_or_else(|e| e.into_inner());
        retired.push(package);
        retired.retain(|package| {
            if Arc::strong_count(package) > 1 {
                return true;
            }
            if let Err(e) = std::fs::remove_dir_all(&package.dir) {
                tracing::warn!(dir = %package.dir.display(), error = %e, "cannot delete a replaced problem");
            }
            false
        });
    }
}

/// Makes an unpacked package durable before it is made current: its files, then its
/// folders.
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            std::fs::File::open(&path)?.sync_all()?;
        }
    }
    std::fs::File::open(dir)?.sync_all()
}

fn logged(loaded: Result<ProblemPackage, judge::Error>) -> Option<ProblemPackage> {
    match loaded {
        Ok(package) => {
            for warning in &package.warnings {
                tracing::warn!(problem = %package.id, "{warning}");
            }
            Some(package)
        }
        Err(e) => {
            tracing::error!(error = %e, "problem package left out");
            None
        }
    }
}

/// Every directory under `dir` with a `problem.yaml`, two levels deep, named by its
/// directory.
fn load_tree(dir: &Path) -> Vec<ProblemPackage> {
    let mut packages = Vec::new();
    let mut pending = vec![(dir.to_owned(), 0)];
    while let Some((dir, depth)) = pending.pop() {
        if dir.join("problem.yaml").is_file() {
            packages.extend(logged(ProblemPackage::load(&dir)));
        } else if depth < 2 {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.path().is_dir() {
                    pending.push((entry.path(), depth + 1));
                }
            }
        }
    }
    packages
}

/// The current versions in `uploads` (each named by its link), after deleting what an
/// interrupted upload or a replaced version left.
fn load_uploads(uploads: &Path) -> Vec<ProblemPackage> {
    let mut current = BTreeMap::new();
    let mut versions = Vec::new();
    for entry in std::fs::read_dir(uploads).into_iter().flatten().flatten() {
        let (path, name) = (
            entry.path(),
            entry.file_name().to_string_lossy().into_owned(),
        );
        if name.starts_with(".link-") {
            let _ = std::fs::remove_file(&path);
        } else if let Ok(target) = std::fs::read_link(&path) {
            // Only links this server made: to a version of the same id beside them.
            let target = target.to_string_lossy().into_owned();
            if valid_id(&name)
                && target
                    .strip_prefix(&name)
                    .is_some_and(|v| v.starts_with('@'))
                && !target.contains('/')
            {
                current.insert(name, target);
            }
        } else if path.is_dir() {
            versions.push((path, name));
        }
    }
    for (path, name) in versions {
        if !current.values().any(|target| *target == name) {
            tracing::info!(dir = %path.display(), "deleting an upload no problem uses");
            let _ = std::fs::remove_dir_all(&path);
        }
    }
    current
        .iter()
        .filter_map(|(id, target)| logged(ProblemPackage::load_as(&uploads.join(target), id)))
        .collect()
}
