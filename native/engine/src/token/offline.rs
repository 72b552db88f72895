//! HMAC-SHA256-verified offline cache of the last good key sets (and, later,
//! policy bundles).
//!
//! The cache is a directory holding one file per entry, `<name>.entry`, where
//! `name` matches `[a-z0-9_-]{1,64}`. Every file is a single JSON object:
//!
//! ```json
//! {"v":1,"name":"jwks","written_at_ms":1767225600000,"payload":"<base64>","mac":"<base64>"}
//! ```
//!
//! * `v` is the format version, currently always `1`.
//! * `name` repeats the entry name; it must equal the file name without
//!   `.entry`, so an entry copied or renamed over another one is detected.
//! * `written_at_ms` is the writer's wall clock, milliseconds since the Unix
//!   epoch, as a JSON integer.
//! * `payload` and `mac` are standard base64 with padding (RFC 4648 §4).
//! * `mac` is HMAC-SHA256 under the configured key (at least 32 bytes) of
//!
//!   ```text
//!   "coresdk-offline-v1" 0x00 name 0x00 written_at_ms-in-decimal 0x00 payload-bytes
//!   ```
//!
//!   and is compared in constant time.
//!
//! Writes are atomic: a temporary file `.tmp-<name>-<unique>` is created in
//! the same directory (mode `0600` on Unix; the directory is created `0700`),
//! written, fsynced, renamed over `<name>.entry`, and then the directory is
//! fsynced (Unix). A reader sees either the old or the new entry, never a mix.
//!
//! Reads are all-or-nothing: [`OfflineCache::load_all`] verifies every
//! `*.entry` file in the directory, and if any one of them fails (bad MAC,
//! another key, truncation, malformed JSON, unknown fields, a name that does
//! not match its file, an unknown version, a symlink or other non-regular
//! file) the whole cache is rejected with [`OfflineError::Tampered`] and
//! nothing from it is returned. Files that do not end in `.entry` are never
//! read. Temporary files left behind by a crashed writer are skipped, and
//! removed once they are older than a minute (younger ones may belong to a
//! write in progress in another process).
//!
//! The cache only proves that an entry was written by a holder of the key; it
//! does not decide whether an entry is too old to use. Callers get each
//! entry's `written_at` and apply their own maximum age.
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Minimum HMAC key length in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// Largest payload [`OfflineCache::store`] accepts (bytes, before base64).
pub const MAX_PAYLOAD_BYTES: usize = 48 * 1024 * 1024;

/// Largest entry file [`OfflineCache::load_all`] reads; a larger file is
/// treated as tampering. Comfortably above the encoded size of a
/// [`MAX_PAYLOAD_BYTES`] payload.
pub const MAX_ENTRY_FILE_BYTES: u64 = 70 * 1024 * 1024;

/// Entry format version written and accepted.
const FORMAT_VERSION: u32 = 1;
/// Domain-separation prefix of the MAC input.
const MAC_CONTEXT: &[u8] = b"coresdk-offline-v1\0";
/// File name suffix of an entry.
const ENTRY_SUFFIX: &str = ".entry";
/// File name prefix of a temporary file written by [`OfflineCache::store`].
const TMP_PREFIX: &str = ".tmp-";
/// Temporary files older than this are considered crash leftovers.
const STALE_TMP_AGE: Duration = Duration::from_secs(60);
/// Longest entry name.
const MAX_NAME_LEN: usize = 64;

/// Errors of the offline cache.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfflineError {
    /// The HMAC key is shorter than [`MIN_KEY_BYTES`].
    #[error("offline cache key is {len} bytes; at least 32 random bytes are required")]
    KeyTooShort {
        /// Length of the rejected key in bytes.
        len: usize,
    },
    /// An entry name outside `[a-z0-9_-]{1,64}`.
    #[error("invalid offline cache entry name {name:?}: expected [a-z0-9_-]{{1,64}}")]
    InvalidName {
        /// The rejected name (truncated to 80 characters).
        name: String,
    },
    /// A payload larger than [`MAX_PAYLOAD_BYTES`] was given to `store`.
    #[error("offline cache payload is {len} bytes; the limit is {limit}")]
    TooLarge {
        /// Length of the rejected payload.
        len: usize,
        /// The limit, [`MAX_PAYLOAD_BYTES`].
        limit: usize,
    },
    /// At least one entry failed verification; the whole cache is rejected.
    #[error("offline cache rejected: entry {entry:?} failed verification: {reason}")]
    Tampered {
        /// File name of the first entry that failed.
        entry: String,
        /// Why it failed (never contains payload or key material).
        reason: String,
    },
    /// A filesystem operation failed.
    #[error("offline cache I/O error on {}: {message}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// The system clock is before the Unix epoch or out of range.
    #[error("system clock is out of range; cannot timestamp offline cache entry")]
    Clock,
}

impl OfflineError {
    fn io(path: &Path, err: &io::Error) -> Self {
        OfflineError::Io {
            path: path.to_path_buf(),
            message: err.to_string(),
        }
    }

    fn tampered(entry: &str, reason: impl Into<String>) -> Self {
        OfflineError::Tampered {
            entry: entry.to_string(),
            reason: reason.into(),
        }
    }
}

/// On-disk form of one entry.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    v: u32,
    name: String,
    written_at_ms: u64,
    payload: String,
    mac: String,
}

/// An HMAC-SHA256-verified cache directory.
///
/// See the [module documentation](self) for the format and guarantees.
/// Cheap to share: all methods take `&self` and the type is `Send + Sync`.
#[derive(Clone)]
pub struct OfflineCache {
    dir: PathBuf,
    key: Vec<u8>,
}

impl fmt::Debug for OfflineCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OfflineCache")
            .field("dir", &self.dir)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl OfflineCache {
    /// Creates a cache over `dir` (created on the first [`store`](Self::store)).
    ///
    /// `key` must be at least [`MIN_KEY_BYTES`] (32) bytes, else
    /// [`OfflineError::KeyTooShort`]. Use random bytes, not a passphrase.
    pub fn new(dir: impl Into<PathBuf>, key: &[u8]) -> Result<Self, OfflineError> {
        if key.len() < MIN_KEY_BYTES {
            return Err(OfflineError::KeyTooShort { len: key.len() });
        }
        Ok(OfflineCache {
            dir: dir.into(),
            key: key.to_vec(),
        })
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Atomically writes one entry, replacing any previous entry of that name.
    ///
    /// Writes a temporary file in the cache directory, fsyncs it, renames it
    /// over `<name>.entry` and fsyncs the directory. `name` must match
    /// `[a-z0-9_-]{1,64}`, else [`OfflineError::InvalidName`].
    pub fn store(&self, name: &str, payload: &[u8]) -> Result<(), OfflineError> {
        validate_name(name)?;
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(OfflineError::TooLarge {
                len: payload.len(),
                limit: MAX_PAYLOAD_BYTES,
            });
        }
        let written_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .and_then(|d| u64::try_from(d.as_millis()).ok())
            .ok_or(OfflineError::Clock)?;
        let mac = self
            .mac(name, written_at_ms, payload)
            .finalize()
            .into_bytes();
        let entry = EntryFile {
            v: FORMAT_VERSION,
            name: name.to_string(),
            written_at_ms,
            payload: B64.encode(payload),
            mac: B64.encode(mac),
        };
        let bytes = serde_json::to_vec(&entry).map_err(|e| OfflineError::Io {
            path: self.dir.clone(),
            message: format!("cannot encode entry: {e}"),
        })?;

        create_dir(&self.dir)?;
        let final_path = self.dir.join(format!("{name}{ENTRY_SUFFIX}"));
        let (tmp_path, mut file) = create_temp(&self.dir, name)?;
        let result = (|| {
            file.write_all(&bytes)
                .map_err(|e| OfflineError::io(&tmp_path, &e))?;
            file.sync_all()
                .map_err(|e| OfflineError::io(&tmp_path, &e))?;
            drop(file);
            fs::rename(&tmp_path, &final_path).map_err(|e| OfflineError::io(&final_path, &e))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp_path);
            return result;
        }
        sync_dir(&self.dir)
    }

    /// Verifies every entry in the directory and returns them all, or none.
    ///
    /// Returns `name -> (payload, written_at)`. If any `*.entry` file fails
    /// verification the result is [`OfflineError::Tampered`] naming the first
    /// failing file, and nothing else: the whole cache is rejected. A missing
    /// directory is an empty cache. Stale temporary files are removed.
    pub fn load_all(&self) -> Result<BTreeMap<String, (Vec<u8>, SystemTime)>, OfflineError> {
        let read_dir = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(OfflineError::io(&self.dir, &e)),
        };
        // Sorted so that the reported entry is deterministic.
        let mut names = Vec::new();
        for dirent in read_dir {
            let dirent = dirent.map_err(|e| OfflineError::io(&self.dir, &e))?;
            names.push(dirent.file_name().to_string_lossy().into_owned());
        }
        names.sort();

        let mut out = BTreeMap::new();
        for file_name in names {
            if file_name.starts_with(TMP_PREFIX) {
                remove_if_stale(&self.dir.join(&file_name));
                continue;
            }
            let Some(stem) = file_name.strip_suffix(ENTRY_SUFFIX) else {
                continue;
            };
            match self.read_entry(&file_name, stem)? {
                Some((payload, written_at)) => {
                    out.insert(stem.to_string(), (payload, written_at));
                }
                None => continue, // removed between listing and opening
            }
        }
        Ok(out)
    }

    /// Loads one entry: [`load_all`](Self::load_all), then picks `name`.
    ///
    /// Any tampered entry in the directory rejects the call even if `name`
    /// itself is intact. `Ok(None)` when the entry does not exist.
    pub fn load(&self, name: &str) -> Result<Option<(Vec<u8>, SystemTime)>, OfflineError> {
        validate_name(name)?;
        Ok(self.load_all()?.remove(name))
    }

    /// Reads and verifies one entry file. `Ok(None)` if it vanished.
    fn read_entry(
        &self,
        file_name: &str,
        stem: &str,
    ) -> Result<Option<(Vec<u8>, SystemTime)>, OfflineError> {
        if validate_name(stem).is_err() {
            return Err(OfflineError::tampered(file_name, "invalid entry file name"));
        }
        let path = self.dir.join(file_name);
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(OfflineError::io(&path, &e)),
        };
        if !meta.file_type().is_file() {
            return Err(OfflineError::tampered(file_name, "not a regular file"));
        }
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(OfflineError::io(&path, &e)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_ENTRY_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| OfflineError::io(&path, &e))?;
        if bytes.len() as u64 > MAX_ENTRY_FILE_BYTES {
            return Err(OfflineError::tampered(file_name, "entry file too large"));
        }

        let entry: EntryFile = serde_json::from_slice(&bytes).map_err(|e| {
            // serde_json messages name the position and expected token, never
            // the content, so they are safe to surface.
            OfflineError::tampered(file_name, format!("malformed entry: {e}"))
        })?;
        if entry.v != FORMAT_VERSION {
            return Err(OfflineError::tampered(
                file_name,
                format!("unsupported entry version {}", entry.v),
            ));
        }
        if entry.name != stem {
            return Err(OfflineError::tampered(
                file_name,
                "entry name does not match its file name",
            ));
        }
        let payload = B64
            .decode(entry.payload.as_bytes())
            .map_err(|_| OfflineError::tampered(file_name, "payload is not valid base64"))?;
        let mac = B64
            .decode(entry.mac.as_bytes())
            .map_err(|_| OfflineError::tampered(file_name, "mac is not valid base64"))?;
        self.mac(&entry.name, entry.written_at_ms, &payload)
            .verify_slice(&mac)
            .map_err(|_| OfflineError::tampered(file_name, "MAC mismatch"))?;
        let written_at = UNIX_EPOCH
            .checked_add(Duration::from_millis(entry.written_at_ms))
            .ok_or_else(|| OfflineError::tampered(file_name, "timestamp out of range"))?;
        Ok(Some((payload, written_at)))
    }

    /// HMAC state over the entry's authenticated fields.
    fn mac(&self, name: &str, written_at_ms: u64, payload: &[u8]) -> HmacSha256 {
        // new_from_slice accepts any key length for HMAC.
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(MAC_CONTEXT);
        mac.update(name.as_bytes());
        mac.update(b"\0");
        mac.update(written_at_ms.to_string().as_bytes());
        mac.update(b"\0");
        mac.update(payload);
        mac
    }
}

/// Checks `[a-z0-9_-]{1,64}`.
fn validate_name(name: &str) -> Result<(), OfflineError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(OfflineError::InvalidName {
            name: name.chars().take(80).collect(),
        })
    }
}

fn create_dir(dir: &Path) -> Result<(), OfflineError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| OfflineError::io(dir, &e))
}

/// Creates a new, uniquely named temporary file in `dir`.
fn create_temp(dir: &Path, name: &str) -> Result<(PathBuf, File), OfflineError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut last_err = None;
    for _ in 0..8 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(
            "{TMP_PREFIX}{name}-{}-{n}-{nanos}",
            std::process::id()
        ));
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        match opts.open(&path) {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some((path, e)),
            Err(e) => return Err(OfflineError::io(&path, &e)),
        }
    }
    let (path, e) = last_err.expect("loop ran");
    Err(OfflineError::io(&path, &e))
}

/// Makes a rename in `dir` durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), OfflineError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| OfflineError::io(dir, &e))
}

/// Windows has no directory fsync; the rename itself is durable enough.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), OfflineError> {
    Ok(())
}

/// Removes a crash-leftover temporary file once it is old enough that no
/// write can still be in progress. Best effort.
fn remove_if_stale(path: &Path) {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    let stale = meta
        .modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_some_and(|age| age >= STALE_TMP_AGE);
    if stale && meta.file_type().is_file() {
        let _ = fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
    const OTHER_KEY: &[u8; 32] = b"fedcba9876543210fedcba9876543210";

    fn cache(dir: &Path) -> OfflineCache {
        OfflineCache::new(dir.join("cache"), KEY).unwrap()
    }

    fn entry_path(c: &OfflineCache, name: &str) -> PathBuf {
        c.dir().join(format!("{name}.entry"))
    }

    fn dir_listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn assert_tampered(
        r: Result<BTreeMap<String, (Vec<u8>, SystemTime)>, OfflineError>,
        file: &str,
    ) {
        match r {
            Err(OfflineError::Tampered { entry, .. }) => assert_eq!(entry, file),
            other => panic!("expected Tampered for {file}, got {other:?}"),
        }
    }

    #[test]
    fn round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let c = cache(tmp.path());
        assert!(c.load_all().unwrap().is_empty(), "missing dir is empty");
        let before = SystemTime::now() - Duration::from_secs(1);
        c.store("jwks", b"{\"keys\":[]}").unwrap();
        c.store("policy_bundle-2", &[0u8, 255, 1, 2]).unwrap();
        c.store("empty", b"").unwrap();
        c.store("jwks", b"{\"keys\":[1]}").unwrap(); // replace
        let all = c.load_all().unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all["jwks"].0, b"{\"keys\":[1]}");
        assert_eq!(all["policy_bundle-2"].0, vec![0u8, 255, 1, 2]);
        assert_eq!(all["empty"].0, b"");
        assert!(all["jwks"].1 >= before && all["jwks"].1 <= SystemTime::now());
        assert_eq!(c.load("jwks").unwrap().unwrap().0, b"{\"keys\":[1]}");
        assert_eq!(c.load("absent").unwrap(), None);

        // The documented format.
        let v: serde_json::Value =
            serde_json::from_slice(&fs::read(entry_path(&c, "jwks")).unwrap()).unwrap();
        assert_eq!(v["v"], 1);
        assert_eq!(v["name"], "jwks");
        assert!(v["written_at_ms"].is_u64());
        assert_eq!(
            B64.decode(v["payload"].as_str().unwrap()).unwrap(),
            b"{\"keys\":[1]}"
        );
        let mut mac = HmacSha256::new_from_slice(KEY).unwrap();
        mac.update(b"coresdk-offline-v1\0jwks\0");
        mac.update(v["written_at_ms"].as_u64().unwrap().to_string().as_bytes());
        mac.update(b"\0{\"keys\":[1]}");
        assert_eq!(
            B64.decode(v["mac"].as_str().unwrap()).unwrap(),
            mac.finalize().into_bytes().to_vec()
        );
    }

    #[test]
    fn flipped_byte_rejects_whole_cache() {
        let tmp = tempfile::tempdir().unwrap();
        let c = cache(tmp.path());
        c.store("aaa-good", b"good entry").unwrap();
        c.store("jwks", b"the key set payload").unwrap();
        c.store("zzz-good", b"another good entry").unwrap();
        let original = fs::read(entry_path(&c, "jwks")).unwrap();

        for field in ["\"payload\":\"", "\"mac\":\""] {
            let mut bytes = original.clone();
            let at = original
                .windows(field.len())
                .position(|w| w == field.as_bytes())
                .unwrap()
                + field.len()
                + 2;
            // Flip to another base64 character so the file still parses.
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            fs::write(entry_path(&c, "jwks"), &bytes).unwrap();
            assert_tampered(c.load_all(), "jwks.entry");
            assert!(matches!(
                c.load("aaa-good"),
                Err(OfflineError::Tampered { .. })
            ));
            assert!(matches!(
                c.load("zzz-good"),
                Err(OfflineError::Tampered { .. })
            ));
        }

        // Raw bit flip in the payload bytes themselves (decoded side).
        let v: serde_json::Value = serde_json::from_slice(&original).unwrap();
        let mut payload = B64.decode(v["payload"].as_str().unwrap()).unwrap();
        payload[0] ^= 0x01;
        let mut v2 = v.clone();
        v2["payload"] = B64.encode(&payload).into();
        fs::write(entry_path(&c, "jwks"), serde_json::to_vec(&v2).unwrap()).unwrap();
        assert_tampered(c.load_all(), "jwks.entry");

        // Timestamp changed.
        let mut v3 = v.clone();
        v3["written_at_ms"] = (v["written_at_ms"].as_u64().unwrap() + 1).into();
        fs::write(entry_path(&c, "jwks"), serde_json::to_vec(&v3).unwrap()).unwrap();
        assert_tampered(c.load_all(), "jwks.entry");

        // Restoring the original makes the cache whole again.
        fs::write(entry_path(&c, "jwks"), &original).unwrap();
        assert_eq!(c.load_all().unwrap().len(), 3);
    }

    #[test]
    fn wrong_key_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        cache(tmp.path()).store("jwks", b"payload").unwrap();
        let other = OfflineCache::new(tmp.path().join("cache"), OTHER_KEY).unwrap();
        assert_tampered(other.load_all(), "jwks.entry");
        // A longer key sharing the prefix is a different key too. (Not a
        // trailing 0x00: HMAC zero-pads short keys, so K and K||0x00 are
        // the same HMAC key, a property of HMAC itself.)
        let mut longer = KEY.to_vec();
        longer.push(1);
        let longer = OfflineCache::new(tmp.path().join("cache"), &longer).unwrap();
        assert_tampered(longer.load_all(), "jwks.entry");
    }

    #[test]
    fn truncated_or_malformed_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        let c = cache(tmp.path());
        c.store("good", b"fine").unwrap();
        c.store("jwks", b"payload bytes").unwrap();
        let original = fs::read(entry_path(&c, "jwks")).unwrap();
        for len in [0, 1, original.len() / 2, original.len() - 1] {
            fs::write(entry_path(&c, "jwks"), &original[..len]).unwrap();
            assert_tampered(c.load_all(), "jwks.entry");
        }
        let v: serde_json::Value = serde_json::from_slice(&original).unwrap();
        let mutations: [fn(&mut serde_json::Value); 6] = [
            |v| v["v"] = 2.into(),
            |v| v["extra"] = true.into(),
            |v| {
                v.as_object_mut().unwrap().remove("mac");
            },
            |v| v["mac"] = "not base64!".into(),
            |v| v["mac"] = "".into(),
            |v| v["written_at_ms"] = (-1).into(),
        ];
        for m in mutations {
            let mut v2 = v.clone();
            m(&mut v2);
            fs::write(entry_path(&c, "jwks"), serde_json::to_vec(&v2).unwrap()).unwrap();
            assert_tampered(c.load_all(), "jwks.entry");
        }
        // An entry file whose name is outside the allowed set.
        fs::write(entry_path(&c, "jwks"), &original).unwrap();
        fs::write(c.dir().join("Bad.entry"), &original).unwrap();
        assert_tampered(c.load_all(), "Bad.entry");
        fs::remove_file(c.dir().join("Bad.entry")).unwrap();
        // A directory posing as an entry.
        fs::create_dir(c.dir().join("dir.entry")).unwrap();
        assert_tampered(c.load_all(), "dir.entry");
        fs::remove_dir(c.dir().join("dir.entry")).unwrap();
        // Files not ending in .entry are not read.
        fs::write(c.dir().join("README"), b"junk").unwrap();
        assert_eq!(c.load_all().unwrap().len(), 2);
    }

    #[test]
    fn swapped_entries_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        let c = cache(tmp.path());
        c.store("jwks-a", b"key set A").unwrap();
        c.store("jwks-b", b"key set B").unwrap();
        let a = entry_path(&c, "jwks-a");
        let b = entry_path(&c, "jwks-b");
        let t = c.dir().join("swap");
        fs::rename(&a, &t).unwrap();
        fs::rename(&b, &a).unwrap();
        fs::rename(&t, &b).unwrap();
        assert_tampered(c.load_all(), "jwks-a.entry");
        assert!(matches!(
            c.load("jwks-b"),
            Err(OfflineError::Tampered { .. })
        ));

        // A copy of a valid entry under a new name is rejected too.
        fs::rename(&a, &t).unwrap();
        fs::rename(&b, &a).unwrap();
        fs::rename(&t, &b).unwrap();
        assert_eq!(c.load_all().unwrap().len(), 2);
        fs::copy(&a, entry_path(&c, "jwks-c")).unwrap();
        assert_tampered(c.load_all(), "jwks-c.entry");
    }

    #[test]
    fn bad_names_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        let c = cache(tmp.path());
        let long = "a".repeat(65);
        for name in [
            "", "JWKS", "a.b", "../x", "a/b", "a b", "é", ".tmp-x", "x\0", &long,
        ] {
            assert!(
                matches!(c.store(name, b"x"), Err(OfflineError::InvalidName { .. })),
                "{name:?}"
            );
            assert!(matches!(
                c.load(name),
                Err(OfflineError::InvalidName { .. })
            ));
        }
        c.store(&"a".repeat(64), b"x").unwrap();
        c.store("0_-z", b"x").unwrap();
        assert_eq!(c.load_all().unwrap().len(), 2);
    }

    #[test]
    fn short_key_rejected() {
        for len in [0, 1, 31] {
            assert_eq!(
                OfflineCache::new("/nonexistent", &vec![7u8; len]).unwrap_err(),
                OfflineError::KeyTooShort { len }
            );
        }
        assert!(OfflineCache::new("/nonexistent", &[7u8; 32]).is_ok());
        let dbg = format!("{:?}", OfflineCache::new("/x", KEY).unwrap());
        assert!(!dbg.contains("0123456789abcdef"), "{dbg}");
    }

    #[test]
    fn atomic_write_leaves_no_temp_files_and_cleans_stale_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let c = cache(tmp.path());
        for i in 0..5 {
            c.store("jwks", format!("v{i}").as_bytes()).unwrap();
        }
        c.store("other", b"x").unwrap();
        assert_eq!(dir_listing(c.dir()), vec!["jwks.entry", "other.entry"]);

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(entry_path(&c, "jwks"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        // A crash leftover: garbage that must be ignored, and removed once stale.
        let fresh = c.dir().join(".tmp-jwks-1-2-3");
        let stale = c.dir().join(".tmp-jwks-4-5-6");
        fs::write(&fresh, b"{partial").unwrap();
        fs::write(&stale, b"{partial").unwrap();
        File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
        let all = c.load_all().unwrap();
        assert_eq!(all["jwks"].0, b"v4");
        assert_eq!(
            dir_listing(c.dir()),
            vec![".tmp-jwks-1-2-3", "jwks.entry", "other.entry"],
            "stale temp removed, fresh one (possibly in progress) kept"
        );
    }

    #[test]
    fn concurrent_stores_stay_consistent() {
        let tmp = tempfile::tempdir().unwrap();
        let c = cache(tmp.path());
        std::thread::scope(|s| {
            for t in 0..4 {
                let c = &c;
                s.spawn(move || {
                    for i in 0..10 {
                        c.store("jwks", format!("t{t}-{i}").as_bytes()).unwrap();
                        c.load_all().unwrap();
                    }
                });
            }
        });
        assert_eq!(dir_listing(c.dir()), vec!["jwks.entry"]);
        assert!(c.load("jwks").unwrap().unwrap().0.ends_with(b"-9"));
    }
}
