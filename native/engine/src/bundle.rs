//! Policy bundles: a directory of `.rego` files plus `data.json` /
//! `data.yaml` documents in OPA's bundle layout, or the same given inline.
//!
//! * Data files in nested folders are mounted at the folder's path: the file
//!   `roles/admin/data.json` becomes `data.roles.admin`.
//! * An optional `.manifest` (JSON) at the root is honoured: its `revision`
//!   names the revision, and its `roots` restrict which package and data
//!   paths the bundle may define (as OPA does).
//! * Without a manifest revision, the revision id is a content hash of every
//!   file (`sha256:<12 hex>`), so identical content always has the same id.
//! * Hidden files and folders (`.git`, editor swap files) are ignored.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::{BundleSource, EngineConfig};
use crate::error::{EngineError, Result};

/// Files larger than this are refused before reading.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// At most this many files are read from one bundle.
const MAX_FILES: usize = 10_000;

/// The sources of one bundle revision, read but not yet compiled.
#[derive(Debug, Clone)]
pub struct BundleFiles {
    /// `(path relative to the bundle root, Rego source)`, sorted by path.
    pub modules: Vec<(String, String)>,
    /// The merged base data document.
    pub data: serde_json::Value,
    /// The revision id (manifest revision or content hash).
    pub revision: String,
    /// The content hash of every file, whatever the manifest says; a reload
    /// whose digest is unchanged is skipped.
    pub digest: String,
    /// Roots from the manifest; empty means "everything".
    pub roots: Vec<String>,
    /// The manifest's `rego_version` (0 or 1), when it declares one.
    pub rego_version: Option<u8>,
}

impl BundleFiles {
    /// No modules and no data: what a remote-bundle engine holds before its
    /// first activation (it answers nothing; see `ERR_BUNDLE_NOT_ACTIVE`).
    pub fn empty() -> Self {
        BundleFiles {
            modules: Vec::new(),
            data: serde_json::Value::Object(Default::default()),
            revision: String::new(),
            digest: String::new(),
            roots: Vec::new(),
            rego_version: None,
        }
    }
}

/// Reads a bundle from its source.
pub fn read(config: &EngineConfig) -> Result<BundleFiles> {
    match &config.bundle {
        BundleSource::Remote(r) => Err(load_err(
            Path::new(&crate::token::fetch::redact_url(&r.url)),
            "a remote bundle is fetched by the engine's poller, not read",
        )),
        BundleSource::Dir(dir) => read_dir(dir),
        BundleSource::Inline { modules, data } => {
            let mut modules = modules.clone();
            modules.sort_by(|a, b| a.0.cmp(&b.0));
            let data = match data {
                serde_json::Value::Null => serde_json::Value::Object(Default::default()),
                v @ serde_json::Value::Object(_) => v.clone(),
                _ => {
                    return Err(EngineError::PolicyLoad {
                        path: PathBuf::from("<inline data>"),
                        message: "the base data document must be an object".into(),
                    })
                }
            };
            let mut hasher = Sha256::new();
            for (name, src) in &modules {
                hash_entry(&mut hasher, name, src.as_bytes());
            }
            hash_entry(&mut hasher, "data", data.to_string().as_bytes());
            let digest = content_revision(hasher);
            Ok(BundleFiles {
                modules,
                data,
                revision: digest.clone(),
                digest,
                roots: Vec::new(),
                rego_version: None,
            })
        }
    }
}

fn hash_entry(hasher: &mut Sha256, name: &str, bytes: &[u8]) {
    hasher.update((name.len() as u64).to_le_bytes());
    hasher.update(name.as_bytes());
    hasher.update((bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

fn content_revision(hasher: Sha256) -> String {
    let digest = hasher.finalize();
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn load_err(path: &Path, message: impl Into<String>) -> EngineError {
    EngineError::PolicyLoad {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Reads a bundle directory.
pub fn read_dir(root: &Path) -> Result<BundleFiles> {
    read_dir_with(root, true)
}

/// Reads a directory of policies; with `manifest` false, a `.manifest` is
/// ignored (no revision, roots or `rego_version` from it), as `opa test`
/// and `opa check` read plain directories.
pub(crate) fn read_dir_with(root: &Path, manifest: bool) -> Result<BundleFiles> {
    let meta = std::fs::metadata(root).map_err(|e| load_err(root, e.to_string()))?;
    if !meta.is_dir() {
        return Err(load_err(root, "not a directory"));
    }
    let mut files = Vec::new();
    collect(root, root, &mut files)?;
    files.sort();
    let mut contents = Vec::with_capacity(files.len());
    for rel in &files {
        let path = root.join(rel);
        let len = std::fs::metadata(&path)
            .map_err(|e| load_err(&path, e.to_string()))?
            .len();
        if len > MAX_FILE_BYTES {
            return Err(load_err(
                &path,
                format!("file larger than {MAX_FILE_BYTES} bytes"),
            ));
        }
        let bytes = std::fs::read(&path).map_err(|e| load_err(&path, e.to_string()))?;
        contents.push((rel_to_string(rel), bytes));
    }
    let manifest_path = root.join(".manifest");
    let manifest = if manifest && manifest_path.is_file() {
        Some(std::fs::read(&manifest_path).map_err(|e| load_err(&manifest_path, e.to_string()))?)
    } else {
        None
    };
    assemble(root, contents, manifest)
}

/// Builds a bundle from files already in memory (a bundle tarball): `.rego`
/// files and `data.json`/`data.yaml`/`data.yml` documents at their paths,
/// `.manifest` at the root. `.signatures.json` is skipped (it is verified
/// before this). Compiled artefacts (`.wasm`, `plan.json`) and delta
/// bundles (`patch.json`) are refused; other files are ignored, as OPA
/// ignores them.
pub(crate) fn from_archive(origin: &Path, files: Vec<(String, Vec<u8>)>) -> Result<BundleFiles> {
    let mut contents = Vec::new();
    let mut manifest = None;
    for (path, bytes) in files {
        let base = path.rsplit('/').next().unwrap_or(&path);
        if path == ".manifest" {
            manifest = Some(bytes);
        } else if base.ends_with(".wasm") || base == "plan.json" {
            return Err(load_err(origin, format!("{path}: compiled (wasm or plan) bundles are not supported; ship the .rego sources")));
        } else if base == "patch.json" {
            return Err(load_err(
                origin,
                "delta bundles (patch.json) are not supported",
            ));
        } else if base.ends_with(".rego") || matches!(base, "data.json" | "data.yaml" | "data.yml")
        {
            contents.push((path, bytes));
        }
    }
    if contents.len() > MAX_FILES {
        return Err(load_err(
            origin,
            format!("more than {MAX_FILES} bundle files"),
        ));
    }
    assemble(origin, contents, manifest)
}

/// Parses the sources (sorted by path) and the manifest into a bundle.
pub(crate) fn assemble(
    root: &Path,
    contents: Vec<(String, Vec<u8>)>,
    manifest: Option<Vec<u8>>,
) -> Result<BundleFiles> {
    let mut hasher = Sha256::new();
    let mut modules = Vec::new();
    let mut data = serde_json::Value::Object(Default::default());
    for (rel_str, bytes) in contents {
        let path = root.join(&rel_str);
        hash_entry(&mut hasher, &rel_str, &bytes);
        let text = String::from_utf8(bytes).map_err(|_| load_err(&path, "not valid UTF-8"))?;
        let name = rel_str.rsplit('/').next().unwrap_or_default();
        if name.ends_with(".rego") {
            modules.push((rel_str, text));
        } else {
            if name == "data.json" {
                if let Some((at, t)) = crate::input::first_inexact_number(&text) {
                    return Err(EngineError::PolicyCompile {
                        location: Some(crate::error::location_at(&rel_str, &text, at)),
                        message: format!("the number {t} has more precision than CoreSDK evaluates exactly (an IEEE double), where OPA compares decimals exactly"),
                    });
                }
            }
            let doc = match name {
                "data.json" => serde_json::from_str::<serde_json::Value>(&text).map_err(|e| {
                    EngineError::PolicyCompile {
                        location: Some(crate::error::SourceLocation {
                            file: rel_str.clone(),
                            line: e.line() as u32,
                            column: e.column() as u32,
                        }),
                        message: format!("invalid JSON: {e}"),
                    }
                })?,
                _ => {
                    let v = regorus::Value::from_yaml_str(&text).map_err(|e| {
                        EngineError::PolicyCompile {
                            location: None,
                            message: format!("{rel_str}: invalid YAML: {e}"),
                        }
                    })?;
                    serde_json::to_value(&v).map_err(|e| load_err(&path, e.to_string()))?
                }
            };
            let mount: Vec<String> = match rel_str.rsplit_once('/') {
                Some((dir, _)) => dir.split('/').map(str::to_string).collect(),
                None => Vec::new(),
            };
            merge_at(&mut data, &mount, doc, &rel_str)?;
        }
    }

    let manifest_path = root.join(".manifest");
    let (revision, roots, rego_version) = if let Some(bytes) = manifest {
        let text =
            String::from_utf8(bytes).map_err(|_| load_err(&manifest_path, "not valid UTF-8"))?;
        hash_entry(&mut hasher, ".manifest", text.as_bytes());
        let m: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| load_err(&manifest_path, format!("invalid JSON: {e}")))?;
        let revision = match m.get("revision") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(serde_json::Value::String(_)) => None,
            Some(_) => return Err(load_err(&manifest_path, "\"revision\" must be a string")),
        };
        let roots = match m.get("roots") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|r| {
                    r.as_str()
                        .map(|s| s.trim_matches('/').to_string())
                        .ok_or_else(|| load_err(&manifest_path, "\"roots\" must be strings"))
                })
                .collect::<Result<Vec<_>>>()?,
            Some(_) => return Err(load_err(&manifest_path, "\"roots\" must be an array")),
        };
        let rego_version = match m.get("rego_version") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => match v.as_u64() {
                Some(n @ (0 | 1)) => Some(n as u8),
                _ => return Err(load_err(&manifest_path, "\"rego_version\" must be 0 or 1")),
            },
        };
        (revision, roots, rego_version)
    } else {
        (None, Vec::new(), None)
    };
    let digest = content_revision(hasher);
    let revision = revision.unwrap_or_else(|| digest.clone());
    if !roots.is_empty() && !roots.iter().any(|r| r.is_empty()) {
        check_data_roots(&data, &roots, &mut Vec::new())?;
    }
    Ok(BundleFiles {
        modules,
        data,
        revision,
        digest,
        roots: roots.into_iter().filter(|r| !r.is_empty()).collect(),
        rego_version,
    })
}

fn rel_to_string(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| load_err(dir, e.to_string()))?;
    for entry in entries {
        let entry = entry.map_err(|e| load_err(dir, e.to_string()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let ty = std::fs::metadata(&path).map_err(|e| load_err(&path, e.to_string()))?;
        if ty.is_dir() {
            collect(root, &path, out)?;
        } else if ty.is_file()
            && (name.ends_with(".rego")
                || name == "data.json"
                || name == "data.yaml"
                || name == "data.yml")
        {
            if out.len() >= MAX_FILES {
                return Err(load_err(
                    root,
                    format!("more than {MAX_FILES} bundle files"),
                ));
            }
            let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            out.push(rel);
        }
    }
    Ok(())
}

/// Deep-merges `doc` into `data` at `mount`; two files may not define the
/// same leaf.
pub(crate) fn merge_at(
    data: &mut serde_json::Value,
    mount: &[String],
    doc: serde_json::Value,
    file: &str,
) -> Result<()> {
    let mut target = data;
    for key in mount {
        let obj = target
            .as_object_mut()
            .ok_or_else(|| conflict(file, mount))?;
        target = obj
            .entry(key.clone())
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
    }
    merge(target, doc).map_err(|_| conflict(file, mount))
}

fn merge(target: &mut serde_json::Value, doc: serde_json::Value) -> std::result::Result<(), ()> {
    match (target, doc) {
        (serde_json::Value::Object(t), serde_json::Value::Object(d)) => {
            for (k, v) in d {
                match t.get_mut(&k) {
                    Some(existing) => merge(existing, v)?,
                    None => {
                        t.insert(k, v);
                    }
                }
            }
            Ok(())
        }
        _ => Err(()),
    }
}

fn conflict(file: &str, mount: &[String]) -> EngineError {
    EngineError::PolicyCompile {
        location: None,
        message: format!(
            "{file}: data at data.{} conflicts with another data file",
            mount.join(".")
        ),
    }
}

/// Every data leaf must sit under one of the manifest's roots.
fn check_data_roots(
    value: &serde_json::Value,
    roots: &[String],
    path: &mut Vec<String>,
) -> Result<()> {
    let joined = path.join("/");
    if !path.is_empty() && roots.iter().any(|r| under_root(&joined, r)) {
        return Ok(());
    }
    match value {
        serde_json::Value::Object(map)
            if roots
                .iter()
                .any(|r| r.starts_with(&joined) || joined.is_empty()) =>
        {
            for (k, v) in map {
                path.push(k.clone());
                check_data_roots(v, roots, path)?;
                path.pop();
            }
            Ok(())
        }
        _ => Err(EngineError::PolicyCompile {
            location: None,
            message: format!(
                "data path data.{} is outside the manifest roots [{}]",
                path.join("."),
                roots.join(", ")
            ),
        }),
    }
}

/// `path` (slash separated) equals `root` or lies below it.
pub(crate) fn under_root(path: &str, root: &str) -> bool {
    root.is_empty()
        || path == root
        || (path.starts_with(root) && path.as_bytes().get(root.len()) == Some(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn nested_data_mounts_at_folder_path() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "authz/policy.rego", "package authz\n");
        write(d.path(), "data.json", r#"{"top": 1}"#);
        write(d.path(), "roles/admin/data.json", r#"{"perms": ["read"]}"#);
        write(d.path(), "roles/data.yaml", "viewer:\n  perms: [list]\n");
        write(d.path(), ".git/ignored.rego", "garbage");
        let b = read_dir(d.path()).unwrap();
        assert_eq!(b.modules.len(), 1);
        assert_eq!(b.modules[0].0, "authz/policy.rego");
        assert_eq!(b.data["top"], 1);
        assert_eq!(b.data["roles"]["admin"]["perms"][0], "read");
        assert_eq!(b.data["roles"]["viewer"]["perms"][0], "list");
        assert!(b.revision.starts_with("sha256:"));
    }

    #[test]
    fn manifest_revision_and_roots() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            ".manifest",
            r#"{"revision": "v42", "roots": ["authz"]}"#,
        );
        write(d.path(), "authz/data.json", r#"{"x": 1}"#);
        let b = read_dir(d.path()).unwrap();
        assert_eq!(b.revision, "v42");
        assert_eq!(b.roots, vec!["authz".to_string()]);

        write(d.path(), "other/data.json", r#"{"y": 1}"#);
        let err = read_dir(d.path()).unwrap_err();
        assert!(
            err.to_string().contains("outside the manifest roots"),
            "{err}"
        );
    }

    #[test]
    fn conflicting_data_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "data.json", r#"{"a": 1}"#);
        write(d.path(), "a/data.json", r#"{"b": 1}"#);
        let err = read_dir(d.path()).unwrap_err();
        assert_eq!(err.code(), "ERR_POLICY_COMPILE");
    }

    #[test]
    fn bad_json_names_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "x/data.json", "{\n  \"a\": ,\n}");
        let err = read_dir(d.path()).unwrap_err();
        assert!(err.to_string().contains("x/data.json:2:"), "{err}");
    }

    #[test]
    fn revision_tracks_content() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "p.rego", "package p\n");
        let r1 = read_dir(d.path()).unwrap().revision;
        assert_eq!(r1, read_dir(d.path()).unwrap().revision);
        write(d.path(), "p.rego", "package p\nx := 1\n");
        assert_ne!(r1, read_dir(d.path()).unwrap().revision);
    }
}
