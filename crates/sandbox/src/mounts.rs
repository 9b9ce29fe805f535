//! The file system a program sees, as plain data.
//!
//! A [`MountPlan`] lists what the box shows, in sandbox paths: the read-only toolchain view,
//! a minimal `/dev` and `/etc`, a fresh `/proc`, a private `/tmp`, and the box itself as the
//! only writable host directory. Tests inspect the plan; the child process only replays its
//! lowered form ([`Op`]), which needs no allocation after `clone`.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Where the writable box appears inside the sandbox; also the programs' working directory.
pub const BOX_PATH: &str = "/box";

/// The user a program runs as inside its user namespace. Shown in `/etc/passwd` so tools
/// that look themselves up (Python's `getpass`, `id`) find a name.
pub(crate) const INNER_UID: u32 = 1000;

/// What one path of the sandbox shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A host file or directory, read-only, at the same path.
    ReadOnly { path: PathBuf },
    /// A symbolic link, as merged-`/usr` systems have for `/bin` and `/lib`.
    Symlink { path: PathBuf, target: PathBuf },
    /// A small file judgelet writes, such as `/etc/passwd`.
    File { path: PathBuf, contents: Vec<u8> },
    /// A host character device (null, zero, urandom, ...), bound at the same path.
    Device { path: PathBuf },
    /// A fresh in-memory file system, as large as the run's memory limit, which its pages
    /// count against.
    Tmpfs { path: PathBuf, mode: u32 },
    /// A fresh procfs of the run's pid namespace; other users' processes hidden.
    Proc { path: PathBuf },
    /// The run's box: the only writable host directory.
    Box { path: PathBuf },
}

impl Entry {
    pub fn path(&self) -> &Path {
        match self {
            Entry::ReadOnly { path }
            | Entry::Symlink { path, .. }
            | Entry::File { path, .. }
            | Entry::Device { path }
            | Entry::Tmpfs { path, .. }
            | Entry::Proc { path }
            | Entry::Box { path } => path,
        }
    }
}

/// The whole file system of a box, in the order it is built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountPlan {
    entries: Vec<Entry>,
}

/// Top-level directories that merged-`/usr` hosts have as symlinks and others as directories.
const ROOT_LINKS: [&str; 6] = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];
const DEVICES: [&str; 5] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

impl MountPlan {
    /// The standard view: `/usr` and the root links as the host has them, `readonly` extra
    /// host paths (toolchains outside `/usr`), `/etc` with only the loader cache and a
    /// passwd entry for the program's user, and fresh `/dev`, `/proc`, `/tmp`.
    pub fn standard(readonly: &[PathBuf]) -> MountPlan {
        let mut entries = vec![Entry::ReadOnly {
            path: "/usr".into(),
        }];
        for link in ROOT_LINKS {
            match std::fs::read_link(link) {
                Ok(target) => entries.push(Entry::Symlink {
                    path: link.into(),
                    target,
                }),
                Err(_) if Path::new(link).is_dir() => {
                    entries.push(Entry::ReadOnly { path: link.into() })
                }
                Err(_) => {}
            }
        }
        let passwd = format!(
            "root:x:0:0:root:/root:/usr/sbin/nologin\n\
             judgelet:x:{INNER_UID}:{INNER_UID}:judgelet:{BOX_PATH}:/usr/sbin/nologin\n\
             nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        );
        let group = format!("root:x:0:\njudgelet:x:{INNER_UID}:\nnogroup:x:65534:\n");
        entries.extend([
            Entry::File {
                path: "/etc/passwd".into(),
                contents: passwd.into_bytes(),
            },
            Entry::File {
                path: "/etc/group".into(),
                contents: group.into_bytes(),
            },
            Entry::File {
                path: "/etc/hosts".into(),
                contents: b"127.0.0.1 localhost judgelet\n".to_vec(),
            },
        ]);
        if Path::new("/etc/ld.so.cache").is_file() {
            entries.push(Entry::ReadOnly {
                path: "/etc/ld.so.cache".into(),
            });
        }
        // /dev is a directory of the root tmpfs: only bound devices and links live there,
        // and a tmpfs of its own would cost a superblock per run.
        entries.extend(DEVICES.iter().map(|d| Entry::Device { path: d.into() }));
        for (name, target) in [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
            // POSIX semaphores and shm_open live in /dev/shm; the private /tmp serves.
            ("shm", "/tmp"),
        ] {
            entries.push(Entry::Symlink {
                path: Path::new("/dev").join(name),
                target: target.into(),
            });
        }
        entries.push(Entry::Proc {
            path: "/proc".into(),
        });
        entries.push(Entry::Tmpfs {
            path: "/tmp".into(),
            mode: 0o1777,
        });
        entries.extend(readonly.iter().map(|p| Entry::ReadOnly { path: p.clone() }));
        entries.push(Entry::Box {
            path: BOX_PATH.into(),
        });
        MountPlan { entries }
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// This plan with more read-only host paths (a language's toolchain outside `/usr`).
    pub fn with_readonly(&self, extra: &[PathBuf]) -> MountPlan {
        let mut plan = self.clone();
        let at = plan.entries.len() - 1;
        for (i, path) in extra.iter().enumerate() {
            plan.entries
                .insert(at + i, Entry::ReadOnly { path: path.clone() });
        }
        plan
    }

    /// The concrete steps under `root` (the host directory the box's root tmpfs is mounted
    /// on, in the child's private mount namespace), with `box_dir` as the box.
    pub(crate) fn lower(
        &self,
        root: &Path,
        box_dir: &Path,
        memory_kib: u64,
    ) -> io::Result<Vec<Op>> {
        let mut ops = vec![Op::Mount {
            source: Some(cstr("tmpfs")?),
            target: cpath(root)?,
            fstype: Some(cstr("tmpfs")?),
            flags: libc::MS_NOSUID | libc::MS_NODEV,
            data: Some(cstr("size=1m,mode=755")?),
        }];
        let mut made: BTreeSet<PathBuf> = BTreeSet::new();
        let inside = |path: &Path| root.join(path.strip_prefix("/").unwrap_or(path));
        for entry in &self.entries {
            let path = entry.path();
            if let Some(parent) = path.parent() {
                mkdir_parents(parent, &inside, &mut made, &mut ops)?;
            }
            let target = inside(path);
            match entry {
                Entry::ReadOnly { path } => {
                    let is_dir = std::fs::metadata(path)
                        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?
                        .is_dir();
                    ops.push(mount_point(&target, is_dir)?);
                    made.insert(path.clone());
                    ops.push(bind(path, &target)?);
                    ops.push(remount(
                        &target,
                        libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
                    )?);
                }
                Entry::Symlink { target: to, .. } => ops.push(Op::Symlink {
                    target: cpath(to)?,
                    path: cpath(&target)?,
                }),
                Entry::File { contents, .. } => ops.push(Op::Write {
                    path: cpath(&target)?,
                    contents: contents.clone(),
                }),
                Entry::Device { path } => {
                    ops.push(mount_point(&target, false)?);
                    ops.push(bind(path, &target)?);
                    ops.push(remount(&target, libc::MS_NOSUID | libc::MS_NOEXEC)?);
                }
                Entry::Tmpfs { mode, .. } => {
                    ops.push(mount_point(&target, true)?);
                    made.insert(path.to_owned());
                    ops.push(Op::Mount {
                        source: Some(cstr("tmpfs")?),
                        target: cpath(&target)?,
                        fstype: Some(cstr("tmpfs")?),
                        flags: libc::MS_NOSUID | libc::MS_NODEV,
                        data: Some(cstr(&format!("size={memory_kib}k,mode={mode:o}"))?),
                    });
                }
                Entry::Proc { .. } => {
                    ops.push(mount_point(&target, true)?);
                    made.insert(path.to_owned());
                    ops.push(Op::Mount {
                        source: Some(cstr("proc")?),
                        target: cpath(&target)?,
                        fstype: Some(cstr("proc")?),
                        flags: libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                        data: Some(cstr("hidepid=2")?),
                    });
                }
                Entry::Box { .. } => {
                    ops.push(mount_point(&target, true)?);
                    made.insert(path.to_owned());
                    ops.push(bind(box_dir, &target)?);
                    ops.push(remount(&target, libc::MS_NOSUID | libc::MS_NODEV)?);
                }
            }
        }
        Ok(ops)
    }
}

/// One step the child replays, with every string prepared before `clone`.
#[derive(Debug)]
pub(crate) enum Op {
    Mkdir {
        path: CString,
    },
    Symlink {
        target: CString,
        path: CString,
    },
    Write {
        path: CString,
        contents: Vec<u8>,
    },
    Mount {
        source: Option<CString>,
        target: CString,
        fstype: Option<CString>,
        flags: libc::c_ulong,
        data: Option<CString>,
    },
}

fn mkdir_parents(
    dir: &Path,
    inside: &impl Fn(&Path) -> PathBuf,
    made: &mut BTreeSet<PathBuf>,
    ops: &mut Vec<Op>,
) -> io::Result<()> {
    if dir == Path::new("/") || made.contains(dir) {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        mkdir_parents(parent, inside, made, ops)?;
    }
    ops.push(Op::Mkdir {
        path: cpath(&inside(dir))?,
    });
    made.insert(dir.to_owned());
    Ok(())
}

fn mount_point(target: &Path, dir: bool) -> io::Result<Op> {
    let path = cpath(target)?;
    Ok(match dir {
        true => Op::Mkdir { path },
        false => Op::Write {
            path,
            contents: Vec::new(),
        },
    })
}

fn bind(source: &Path, target: &Path) -> io::Result<Op> {
    Ok(Op::Mount {
        source: Some(cpath(source)?),
        target: cpath(target)?,
        fstype: None,
        flags: libc::MS_BIND,
        data: None,
    })
}

/// A bind mount's own flags can only be set by remounting it.
fn remount(target: &Path, flags: libc::c_ulong) -> io::Result<Op> {
    Ok(Op::Mount {
        source: None,
        target: cpath(target)?,
        fstype: None,
        flags: libc::MS_BIND | libc::MS_REMOUNT | flags,
        data: None,
    })
}

fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

pub(crate) fn cpath(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_box_is_the_only_writable_host_path() {
        let plan = MountPlan::standard(&[]);
        let writable_host: Vec<&Entry> = plan
            .entries()
            .iter()
            .filter(|e| matches!(e, Entry::Box { .. }))
            .collect();
        assert_eq!(writable_host.len(), 1);
        assert_eq!(writable_host[0].path(), Path::new(BOX_PATH));
        for entry in plan.entries() {
            if let Entry::ReadOnly { path } = entry {
                assert!(
                    path.starts_with("/usr")
                        || path.starts_with("/lib")
                        || path.starts_with("/bin")
                        || path.starts_with("/sbin")
                        || path == Path::new("/etc/ld.so.cache"),
                    "unexpected host path {path:?}"
                );
            }
        }
    }

    #[test]
    fn no_secret_of_etc_is_shown() {
        let plan = MountPlan::standard(&[]);
        for entry in plan.entries() {
            let path = entry.path();
            assert!(
                !path.starts_with("/etc") || path.file_name().is_some_and(|n| n != "shadow"),
                "{path:?}"
            );
            assert_ne!(
                entry,
                &Entry::ReadOnly {
                    path: "/etc".into()
                }
            );
        }
    }

    #[test]
    fn lowering_binds_readonly_paths_and_remounts_them_readonly() {
        let plan = MountPlan::standard(&[]);
        let ops = plan
            .lower(Path::new("/r"), Path::new("/host/box"), 1024)
            .unwrap();
        let usr = CString::new("/r/usr").unwrap();
        let flags: Vec<libc::c_ulong> = ops
            .iter()
            .filter_map(|op| match op {
                Op::Mount { target, flags, .. } if *target == usr => Some(*flags),
                _ => None,
            })
            .collect();
        assert_eq!(flags.len(), 2);
        assert_eq!(flags[0], libc::MS_BIND);
        assert!(flags[1] & libc::MS_RDONLY != 0 && flags[1] & libc::MS_REMOUNT != 0);
        let tmp = ops.iter().find_map(|op| match op {
            Op::Mount { target, data, .. } if target.as_bytes() == b"/r/tmp" => data.clone(),
            _ => None,
        });
        assert_eq!(tmp.unwrap().to_str().unwrap(), "size=1024k,mode=1777");
    }

    #[test]
    fn extra_readonly_paths_get_their_parents_made() {
        let host = tempfile::tempdir().unwrap();
        let toolchain = host.path().join("opt/tool");
        std::fs::create_dir_all(&toolchain).unwrap();
        let plan = MountPlan::standard(&[]).with_readonly(std::slice::from_ref(&toolchain));
        let ops = plan.lower(Path::new("/r"), Path::new("/b"), 1024).unwrap();
        let mkdirs: Vec<PathBuf> = ops
            .iter()
            .filter_map(|op| match op {
                Op::Mkdir { path } => Some(PathBuf::from(path.to_str().unwrap())),
                _ => None,
            })
            .collect();
        let inside = |p: &Path| Path::new("/r").join(p.strip_prefix("/").unwrap());
        let opt = mkdirs
            .iter()
            .position(|p| *p == inside(&host.path().join("opt")));
        let tool = mkdirs.iter().position(|p| *p == inside(&toolchain));
        assert!(opt.unwrap() < tool.unwrap());
        let tmp_made = mkdirs.iter().filter(|p| **p == Path::new("/r/tmp")).count();
        assert_eq!(tmp_made, 1);
    }
}
