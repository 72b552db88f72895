//! Reading the paths given to `test` and `check` into one set of sources.
//!
//! As `opa test` does, every path may be a directory (read recursively:
//! `.rego` files, `data.json` / `data.yaml` documents mounted at their
//! folder's path) or a single file (a `.rego` module, or a JSON/YAML
//! document mounted at the root). In bundle mode a single directory is read
//! exactly as the engine reads a bundle: its `.manifest` revision, roots and
//! `rego_version` apply.
//!
//! Module names are the paths as given (`examples/policies/authz.rego`), so
//! every `file:line` in a report opens in an editor.

use std::path::{Path, PathBuf};

use crate::bundle::{self, BundleFiles};
use crate::error::{EngineError, Result};

/// Reads `paths` (at least one) into one set of sources.
pub(crate) fn read(paths: &[PathBuf], bundle_mode: bool) -> Result<BundleFiles> {
    if paths.is_empty() {
        return Err(EngineError::PolicyLoad {
            path: PathBuf::from("."),
            message: "no policy paths given".into(),
        });
    }
    if bundle_mode {
        let [dir] = paths else {
            return Err(EngineError::PolicyLoad {
                path: paths[1].clone(),
                message: "bundle mode reads exactly one bundle directory".into(),
            });
        };
        let mut files = bundle::read_dir(dir)?;
        prefix_modules(&mut files, dir);
        return Ok(files);
    }
    let mut merged = BundleFiles::empty();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| EngineError::PolicyLoad {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let mut files = if meta.is_dir() {
            let mut f = bundle::read_dir_with(path, false)?;
            prefix_modules(&mut f, path);
            f
        } else {
            read_file(path)?
        };
        merged.modules.append(&mut files.modules);
        let data = std::mem::take(&mut files.data);
        bundle::merge_at(&mut merged.data, &[], data, &path.display().to_string())?;
    }
    merged.modules.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = merged.modules.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(EngineError::PolicyLoad {
            path: PathBuf::from(&w[0].0),
            message: "given twice".into(),
        });
    }
    Ok(merged)
}

/// One file: a module, or a data document mounted at the root.
fn read_file(path: &Path) -> Result<BundleFiles> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| EngineError::PolicyLoad {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let entry = if name.ends_with(".rego") {
        name.clone()
    } else if name.ends_with(".json") {
        "data.json".to_string()
    } else if name.ends_with(".yaml") || name.ends_with(".yml") {
        "data.yaml".to_string()
    } else {
        return Err(EngineError::PolicyLoad {
            path: path.to_path_buf(),
            message: "not a .rego, .json or .yaml file".into(),
        });
    };
    let parent = path.parent().unwrap_or(Path::new("."));
    bundle::assemble(parent, vec![(entry, bytes)], None).map_err(|e| match e {
        // The entry was renamed to be mounted at the root; name the file.
        EngineError::PolicyCompile {
            location: Some(mut l),
            message,
        } => {
            l.file = name.clone();
            EngineError::PolicyCompile {
                location: Some(l),
                message,
            }
        }
        other => other,
    })
}

/// Names every module by its path under `dir` as given.
fn prefix_modules(files: &mut BundleFiles, dir: &Path) {
    for (name, _) in &mut files.modules {
        *name = dir.join(name.as_str()).display().to_string();
    }
}
