//! What a client of the sidecar reads from `coresdk.toml` and `CORESDK_*`:
//! the `[sdk]` keys the configuration contract gives to clients
//! ([`CLIENT_KEYS`](crate::config_keys::CLIENT_KEYS): address, tenant, fail mode, deadline, TLS). Every
//! other key of the file is the engine's or the sidecar's: a client accepts
//! it without reading it, so one file serves the sidecar and its clients.
//! A key or table that no component knows is still `ERR_CONFIG`, naming it.
//!
//! The Python, Go and Java clients implement the same rules from the same
//! generated key lists; `clients/conformance/config.json` checks that all
//! four resolve the same settings and refuse the same files.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::{RawValue, SdkConfig};
use crate::config_file::table;
#[cfg(test)]
use crate::config_keys::CLIENT_KEYS;
use crate::config_keys::{AUTHZEN_KEYS, CLIENT_TABLE_KEYS, SDK_KEYS, SIDECAR_KEYS, TENANT_KEYS};
use crate::error::{EngineError, Result};

impl SdkConfig {
    /// The client settings of `file` (optional) and `vars` (`CORESDK_*`
    /// names): only `keys` of `[sdk]` (a client passes [`CLIENT_KEYS`](crate::config_keys::CLIENT_KEYS),
    /// the Node package adds [`crate::config_keys::NODE_KEYS`]) are read
    /// and validated; the rest of the file is checked for unknown tables and
    /// keys only. Relative TLS paths in the file resolve against its
    /// directory.
    pub fn load_client(
        file: Option<&Path>,
        vars: &BTreeMap<String, String>,
        keys: &[&str],
    ) -> Result<Self> {
        let mut entries: BTreeMap<String, (String, RawValue)> = BTreeMap::new();
        let mut base_dir = None;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                EngineError::config("CORESDK_CONFIG", format!("{}: {e}", path.display()))
            })?;
            base_dir = path.parent().map(Path::to_path_buf);
            let doc: toml::Table = text
                .parse()
                .map_err(|e: toml::de::Error| EngineError::config("coresdk.toml", e.to_string()))?;
            for (section, value) in doc {
                match section.as_str() {
                    "sdk" => entries = table(value, "sdk", SDK_KEYS)?,
                    "sidecar" => {
                        let mut value = value;
                        if let Some(az) = value.as_table_mut().and_then(|t| t.remove("authzen")) {
                            table(az, "sidecar.authzen", AUTHZEN_KEYS)?;
                        }
                        if let Some(c) = value.as_table_mut().and_then(|t| t.remove("clients")) {
                            tables_of(c, "sidecar.clients", CLIENT_TABLE_KEYS)?;
                        }
                        table(value, "sidecar", SIDECAR_KEYS)?;
                    }
                    "tenants" => tables_of(value, "tenants", TENANT_KEYS)?,
                    other => {
                        return Err(EngineError::config(
                            other,
                            "unknown section (known: [sdk], [sidecar], [tenants.<id>])",
                        ))
                    }
                }
            }
        }
        entries.retain(|key, _| keys.contains(&key.as_str()));
        for key in keys {
            let var = format!("CORESDK_{}", key.to_ascii_uppercase());
            if let Some(v) = vars.get(&var) {
                entries.insert((*key).to_string(), (var, RawValue::Env(v.clone())));
            }
        }
        let mut cfg = SdkConfig::default();
        cfg.apply(entries, base_dir.as_deref())?;
        Ok(cfg)
    }
}

/// A table of tables (`[tenants.<id>]`, `[sidecar.clients."<name>"]`)
/// whose tables may hold only `keys`.
fn tables_of(value: toml::Value, name: &str, keys: &[&str]) -> Result<()> {
    let toml::Value::Table(t) = value else {
        return Err(EngineError::config(name, "must be a table of tables"));
    };
    for (id, inner) in t {
        table(inner, &format!("{name}.{id}"), keys)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: &str, vars: &[(&str, &str)]) -> Result<SdkConfig> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("coresdk.toml");
        std::fs::write(&file, toml).unwrap();
        let vars = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SdkConfig::load_client(Some(&file), &vars, CLIENT_KEYS)
    }

    #[test]
    fn reads_client_keys_and_accepts_the_others_unread() {
        let cfg = load(
            "[sdk]\nfail_mode = \"closed\"\nfast_path = \"not even a boolean\"\n\
             [sidecar.authzen]\naddr = 7\n[tenants.globex]\npolicy_dir = 1\n",
            &[("CORESDK_TIMEOUT_MS", "250"), ("CORESDK_POOL_SIZE", "nope")],
        )
        .unwrap();
        assert_eq!(cfg.fail_mode, crate::config::FailMode::Closed);
        assert_eq!(cfg.timeout.as_millis(), 250);
    }

    #[test]
    fn unknown_keys_and_bad_client_values_name_the_key() {
        let e = load("[sdk]\nfail_mod = \"open\"\n", &[]).unwrap_err();
        assert!(e.to_string().contains("sdk.fail_mod"), "{e}");
        let e = load("[tenants.globex]\npolicy_dirs = \"x\"\n", &[]).unwrap_err();
        assert!(e.to_string().contains("tenants.globex.policy_dirs"), "{e}");
        let e = load("[sidecar.authzen]\nadress = \"x\"\n", &[]).unwrap_err();
        assert!(e.to_string().contains("sidecar.authzen.adress"), "{e}");
        let e = load("", &[("CORESDK_FAIL_MODE", "maybe")]).unwrap_err();
        assert!(e.to_string().contains("CORESDK_FAIL_MODE"), "{e}");
        let e = load("[sdk]\ntimeout_ms = \"fast\"\n", &[]).unwrap_err();
        assert!(e.to_string().contains("sdk.timeout_ms"), "{e}");
    }

    #[test]
    fn addresses_as_every_client_parses_them() {
        for ok in [
            "[::1]:50051",
            "127.0.0.1:50051",
            "localhost:50051",
            "unix:/run/coresdk.sock",
            "[::]:0",
            "sidecar.internal:443",
        ] {
            assert!(crate::config::check_address(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "localhost",
            "::1:50051",
            "[::1]",
            "[::1]:",
            "[nope]:1",
            "host:99999",
            "host:-1",
            ":50051",
            "unix:",
            "a b:1",
        ] {
            assert!(crate::config::check_address(bad).is_err(), "{bad}");
        }
    }
}
