//! The `Engine(...)` arguments as an `EngineConfig`, through the engine's
//! one configuration loader.
//!
//! Settings are the `[sdk]` keys of `coresdk.toml` (proto/contract/config.json)
//! given as keyword arguments; they are handed to the loader as the
//! `CORESDK_*` variables they stand for, over the file and the process's
//! variables when `from_env` is set, so that every check and message is the
//! engine's own.

use std::collections::{BTreeMap, HashMap};

use coresdk_engine::{EngineConfig, SdkConfig};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyList, PyString, PyTuple};

use crate::errors::{engine_error, error};
use crate::values::to_json_text;

/// Nesting allowed in an inline `data` document (the engine's own limit for
/// bundle files is the parser's).
const MAX_DATA_DEPTH: usize = 1_000;

fn config_error(py: Python<'_>, key: &str, message: impl std::fmt::Display) -> PyErr {
    error(
        py,
        "ERR_CONFIG",
        format!("invalid configuration: {key}: {message}"),
    )
}

/// One setting's value as the text of its `CORESDK_*` variable.
fn setting_text(py: Python<'_>, key: &str, v: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(if b.is_true() { "true" } else { "false" }.into());
    }
    if v.is_instance_of::<PyInt>() {
        return Ok(v.str()?.to_string());
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(s.to_str()?.to_string());
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let mut items = Vec::new();
        for item in v.try_iter()? {
            let item = item?;
            let Ok(s) = item.cast::<PyString>() else {
                return Err(config_error(py, key, "must be a list of strings"));
            };
            let s = s.to_str()?;
            if s.contains(',') {
                return Err(config_error(py, key, "list items cannot contain ','"));
            }
            items.push(s.to_string());
        }
        return Ok(items.join(","));
    }
    Err(config_error(
        py,
        key,
        "must be a string, an integer, a boolean or a list of strings",
    ))
}

/// The variables `settings` stand for, checked against the `[sdk]` keys.
fn setting_vars(
    py: Python<'_>,
    settings: &Bound<'_, PyDict>,
    vars: &mut BTreeMap<String, String>,
) -> PyResult<()> {
    for (k, v) in settings.iter() {
        let key: String = k.extract()?;
        if !coresdk_engine::config_keys::SDK_KEYS.contains(&key.as_str()) {
            return Err(config_error(
                py,
                &key,
                "unknown setting (the [sdk] keys of coresdk.toml are accepted; docs/configuration.md)",
            ));
        }
        if v.is_none() {
            continue;
        }
        let text = setting_text(py, &key, &v)?;
        vars.insert(format!("CORESDK_{}", key.to_ascii_uppercase()), text);
    }
    Ok(())
}

/// The engine configuration the constructor's arguments describe.
pub(crate) fn engine_config(
    py: Python<'_>,
    from_env: bool,
    policy_dir: Option<String>,
    policies: Option<HashMap<String, String>>,
    data: Option<&Bound<'_, PyAny>>,
    settings: Option<&Bound<'_, PyDict>>,
) -> PyResult<EngineConfig> {
    let (file, mut vars) = if from_env {
        coresdk_engine::config_file::env_sources()
    } else {
        (None, BTreeMap::new())
    };
    if let Some(s) = settings {
        setting_vars(py, s, &mut vars)?;
    }
    if policies.is_some() && policy_dir.is_some() {
        return Err(config_error(
            py,
            "policies",
            "give policy_dir or policies, not both",
        ));
    }
    if data.is_some() && policies.is_none() {
        return Err(config_error(
            py,
            "data",
            "inline data goes with inline policies",
        ));
    }
    if let Some(dir) = policy_dir {
        vars.insert("CORESDK_POLICY_DIR".into(), dir);
    }
    let Some(policies) = policies else {
        return SdkConfig::load(file.as_deref(), &vars)
            .and_then(|c| c.engine_config())
            .map_err(|e| engine_error(py, &e));
    };
    // Inline modules: the settings configure everything but the bundle.
    vars.remove("CORESDK_POLICY_DIR");
    vars.remove("CORESDK_BUNDLE_URL");
    let sdk = SdkConfig::load(file.as_deref(), &vars).map_err(|e| engine_error(py, &e))?;
    let data = match data {
        None => serde_json::Value::Null,
        Some(d) => {
            let text = to_json_text(d, usize::MAX, MAX_DATA_DEPTH)
                .map_err(|p| config_error(py, "data", p.message))?;
            if text.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::from_str(&text).map_err(|e| config_error(py, "data", e))?
            }
        }
    };
    let mut modules: Vec<(String, String)> = policies.into_iter().collect();
    modules.sort();
    let mut cfg = EngineConfig::inline(modules, data);
    cfg.pool_size = sdk.pool_size;
    cfg.eval_timeout = sdk.eval_timeout;
    cfg.max_input_bytes = sdk.max_input_bytes;
    cfg.max_input_depth = sdk.max_input_depth;
    cfg.rego_v0 = sdk.rego_v0;
    cfg.decision_cache_entries = sdk.decision_cache_entries;
    cfg.fast_path = sdk.fast_path;
    cfg.token = sdk.token;
    cfg.pii = sdk.pii;
    Ok(cfg)
}
