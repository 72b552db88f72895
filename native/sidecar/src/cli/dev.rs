//! `--dev`: development defaults that need nothing but this binary.
//!
//! - the example bundle (`examples/policies`, carried inside the binary),
//!   written once to `<dev dir>/policies-<digest>`;
//! - a development key set made on first start: an Ed25519 private key
//!   (`signing-key.pem`, PKCS#8, mode 0600) that never leaves the machine,
//!   and the public `jwks.json` the sidecar verifies against;
//! - a token signed with it (subject `dev-user`, role `admin`, 12 hours),
//!   printed at start so that a newcomer can call at once;
//! - insecure-dev on loopback, any query from clients, and the AuthZEN API
//!   over plaintext HTTP on [`DEV_AUTHZEN_ADDR`] with the example's search
//!   rules.
//!
//! The dev directory is per user, not per working directory:
//! `$XDG_STATE_HOME/coresdk/dev`, else `~/.local/state/coresdk/dev`, unless
//! `--dev-dir` names another. None of this is for production.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::json;

use crate::error::SidecarError;

include!(concat!(env!("OUT_DIR"), "/dev_bundle.rs"));

/// Issuer of development tokens.
pub const DEV_ISSUER: &str = "https://dev.coresdk.local";
/// Audience of development tokens.
pub const DEV_AUDIENCE: &str = "coresdk-dev";
/// Key id of the development key.
pub const DEV_KID: &str = "coresdk-dev-1";
/// Where `--dev` serves AuthZEN unless told otherwise: beside the gRPC
/// port, off the ports applications and OPA take by default (8080, 8000,
/// 3000, 5000, 8181, 8443; docs/authzen.md).
pub const DEV_AUTHZEN_ADDR: &str = "[::1]:50080";

/// Defaults of `--dev` that flags and the environment may override.
pub const DEV_DEFAULTS: &[(&str, &str)] = &[
    ("CORESDK_SIDECAR_ALLOWED_QUERIES", "*"),
    (
        "CORESDK_SIDECAR_AUTHZEN_SEARCH_SUBJECT_QUERY",
        "data.authzen.search_subjects",
    ),
    (
        "CORESDK_SIDECAR_AUTHZEN_SEARCH_RESOURCE_QUERY",
        "data.authzen.search_resources",
    ),
    (
        "CORESDK_SIDECAR_AUTHZEN_SEARCH_ACTION_QUERY",
        "data.authzen.search_actions",
    ),
];

/// What `--dev` set up.
#[derive(Debug)]
pub struct DevSetup {
    /// The directory holding the key set and the bundle.
    pub dir: PathBuf,
    /// `CORESDK_*` variables of the development defaults (these win over
    /// the environment; [`DEV_DEFAULTS`] do not).
    pub vars: BTreeMap<String, String>,
    /// An admin's development token, valid for 12 hours.
    pub token: String,
}

/// The per-user dev directory: `$XDG_STATE_HOME/coresdk/dev`, else
/// `$HOME/.local/state/coresdk/dev`.
pub fn default_dir() -> Result<PathBuf, SidecarError> {
    if let Some(state) = std::env::var_os("XDG_STATE_HOME").filter(|s| !s.is_empty()) {
        return Ok(PathBuf::from(state).join("coresdk").join("dev"));
    }
    match std::env::var_os("HOME").filter(|s| !s.is_empty()) {
        Some(home) => Ok(PathBuf::from(home)
            .join(".local")
            .join("state")
            .join("coresdk")
            .join("dev")),
        None => Err(SidecarError::config(
            "--dev-dir",
            "neither XDG_STATE_HOME nor HOME is set: name a directory for the development key set",
        )),
    }
}

/// Where `--dev` serves AuthZEN when nothing says: [`DEV_AUTHZEN_ADDR`]
/// with the default gRPC address, else a free port on the gRPC address's
/// host (loopback for a unix socket), so that several development sidecars
/// started with `--addr` (tests, examples) never collide.
pub fn authzen_addr(grpc_addr: Option<&str>) -> String {
    match grpc_addr {
        None => DEV_AUTHZEN_ADDR.to_string(),
        Some(a) if a.starts_with("unix:") => "[::1]:0".to_string(),
        Some(a) => match a.rfind(':') {
            Some(i) if i > 0 => format!("{}:0", &a[..i]),
            _ => "[::1]:0".to_string(),
        },
    }
}

fn io_error(path: &Path, e: std::io::Error) -> SidecarError {
    SidecarError::config("--dev-dir", format!("{}: {e}", path.display()))
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> Result<(), SidecarError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| io_error(path, e))
}

#[cfg(not(unix))]
fn restrict(_: &Path, _: u32) -> Result<(), SidecarError> {
    Ok(())
}

fn pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

fn unpem(text: &str) -> Option<Vec<u8>> {
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .collect();
    STANDARD.decode(body).ok()
}

/// Loads the key set in `dir`, or makes one.
fn key_pair(dir: &Path) -> Result<Ed25519KeyPair, SidecarError> {
    let key_file = dir.join("signing-key.pem");
    if key_file.is_file() {
        let text = std::fs::read_to_string(&key_file).map_err(|e| io_error(&key_file, e))?;
        return unpem(&text)
            .and_then(|der| Ed25519KeyPair::from_pkcs8(&der).ok())
            .ok_or_else(|| {
                SidecarError::config(
                    "--dev-dir",
                    format!(
                        "{} is not an Ed25519 PKCS#8 key; remove it to make a new development key set",
                        key_file.display()
                    ),
                )
            });
    }
    // PKCS#8 v1, as openssl, Node and Java write and read it.
    let der = Ed25519KeyPair::generate_pkcs8v1(&SystemRandom::new())
        .map_err(|_| SidecarError::config("--dev", "could not generate an Ed25519 key"))?;
    // Published without clobbering: two first starts at once keep one key.
    let tmp = dir.join(format!("signing-key.pem.{}.tmp", std::process::id()));
    std::fs::write(&tmp, pem(der.as_ref())).map_err(|e| io_error(&tmp, e))?;
    restrict(&tmp, 0o600)?;
    let linked = std::fs::hard_link(&tmp, &key_file);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ed25519KeyPair::from_pkcs8(der.as_ref())
            .map_err(|_| SidecarError::config("--dev", "could not read the generated key")),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => key_pair(dir),
        Err(e) => Err(io_error(&key_file, e)),
    }
}

/// Writes `bytes` to `path` whole or not at all (a temporary file renamed
/// over it), so that a concurrent start never reads half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SidecarError> {
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| io_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))
}

/// The example bundle in `dir`: `policies-<digest>`, written once per
/// content (into a temporary directory renamed into place), so that
/// sidecars starting at once, or of two versions, never see a half-written
/// or changing bundle.
fn bundle_dir(dir: &Path) -> Result<PathBuf, SidecarError> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (rel, bytes) in DEV_BUNDLE {
        h.update(rel.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    let digest = h.finalize();
    let hexed: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    let dest = dir.join(format!("policies-{hexed}"));
    if dest.is_dir() {
        return Ok(dest);
    }
    let tmp = dir.join(format!("policies.{}.tmp", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    for (rel, bytes) in DEV_BUNDLE {
        let path = tmp.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| io_error(&path, e))?;
    }
    if std::fs::rename(&tmp, &dest).is_err() {
        // Another start put it there first.
        let _ = std::fs::remove_dir_all(&tmp);
        if !dest.is_dir() {
            return Err(SidecarError::config(
                "--dev-dir",
                format!("cannot write the example bundle to {}", dest.display()),
            ));
        }
    }
    Ok(dest)
}

/// Signs a development token: the dev issuer and audience, 12 hours, plus
/// `claims` (which may override them).
pub fn mint(pair: &Ed25519KeyPair, claims: serde_json::Value) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": DEV_KID});
    let mut payload =
        json!({"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "iat": now, "exp": now + 12 * 3600});
    if let (Some(p), Some(c)) = (payload.as_object_mut(), claims.as_object()) {
        for (k, v) in c {
            p.insert(k.clone(), v.clone());
        }
    }
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let sig = pair.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

/// The key set in `dir` (default: [`default_dir`]), made on first use,
/// with its public `jwks.json` (re)written beside it.
fn key_set(dir: Option<&Path>) -> Result<(PathBuf, Ed25519KeyPair), SidecarError> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => default_dir()?,
    };
    std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
    restrict(&dir, 0o700)?;
    let pair = key_pair(&dir)?;
    let jwks = json!({"keys": [{
        "kty": "OKP",
        "crv": "Ed25519",
        "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
        "kid": DEV_KID,
        "alg": "EdDSA",
        "use": "sig",
    }]});
    write_atomic(&dir.join("jwks.json"), format!("{jwks:#}\n").as_bytes())?;
    Ok((dir, pair))
}

/// `coresdk-sidecar dev-token`: prints one development token, signed with
/// the key set `--dev` verifies against (made now if there is none yet).
pub fn print_token(a: super::args::DevTokenArgs) -> std::process::ExitCode {
    let (_, pair) = match key_set(a.dev_dir.as_deref()) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("coresdk-sidecar dev-token: [{}] {e}", e.code());
            return std::process::ExitCode::from(2);
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let roles: Vec<&str> = a
        .roles
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .collect();
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), json!(a.sub));
    claims.insert("roles".into(), json!(roles));
    claims.insert("exp".into(), json!(now + a.ttl));
    for (name, value) in a.claims {
        claims.insert(name, value);
    }
    println!("{}", mint(&pair, serde_json::Value::Object(claims)));
    std::process::ExitCode::SUCCESS
}

/// Makes (first start) or reuses the key set in `dir` (default:
/// [`default_dir`]), writes the example bundle beside it, mints a token.
pub fn setup(dir: Option<&Path>) -> Result<DevSetup, SidecarError> {
    let (dir, pair) = key_set(dir)?;
    let jwks_file = dir.join("jwks.json");
    let policies = bundle_dir(&dir)?;
    let token = mint(&pair, json!({"sub": "dev-user", "roles": ["admin"]}));
    let vars = BTreeMap::from([
        (
            "CORESDK_POLICY_DIR".to_string(),
            policies.display().to_string(),
        ),
        (
            "CORESDK_JWKS_FILE".to_string(),
            jwks_file.display().to_string(),
        ),
        ("CORESDK_ISSUER".to_string(), DEV_ISSUER.to_string()),
        ("CORESDK_AUDIENCE".to_string(), DEV_AUDIENCE.to_string()),
        (
            "CORESDK_SIDECAR_INSECURE_DEV".to_string(),
            "true".to_string(),
        ),
    ]);
    Ok(DevSetup { dir, vars, token })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_set_is_made_once_and_tokens_verify_with_it() {
        let tmp = tempfile::tempdir().unwrap();
        let a = setup(Some(tmp.path())).unwrap();
        let b = setup(Some(tmp.path())).unwrap();
        let jwks = std::fs::read_to_string(tmp.path().join("jwks.json")).unwrap();
        assert!(jwks.contains(DEV_KID));
        assert_ne!(a.token, "");
        // The same key both times: both tokens verify against the one key
        // set, through the configuration the sidecar itself loads.
        let config = coresdk_engine::ConfigFile::load(None, &b.vars).unwrap();
        let tenant = config.tenants().unwrap().remove(0);
        let e = coresdk_engine::Engine::new(tenant.engine).unwrap();
        for t in [&a.token, &b.token] {
            let v = e.verify_token(t).unwrap();
            assert!(
                v.claims_json.contains("\"sub\":\"dev-user\""),
                "{}",
                v.claims_json
            );
        }
        let bundle = b.vars["CORESDK_POLICY_DIR"].clone();
        assert!(Path::new(&bundle).join("authz/authz.rego").is_file());
        assert!(Path::new(&bundle).join(".manifest").is_file());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(tmp.path().join("signing-key.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn authzen_takes_a_free_port_beside_a_chosen_grpc_address() {
        assert_eq!(authzen_addr(None), DEV_AUTHZEN_ADDR);
        assert_eq!(authzen_addr(Some("127.0.0.1:7000")), "127.0.0.1:0");
        assert_eq!(authzen_addr(Some("[::1]:0")), "[::1]:0");
        assert_eq!(authzen_addr(Some("unix:/tmp/s.sock")), "[::1]:0");
    }
}
