//! Reading a bundle tarball (`opa build`'s gzip-compressed tar) into memory,
//! with every limit applied while reading, never after.
//!
//! * Only regular files and directories are accepted. A symlink, hard link,
//!   device, FIFO or any other entry type refuses the whole archive (OPA
//!   skips them silently; an archive carrying one was not written by
//!   `opa build`).
//! * Paths are normalised the way OPA names them in signatures: leading `/`
//!   and `./` removed. A `..` component, a backslash, a NUL, a drive
//!   prefix, an empty name, or the same file twice refuses the archive.
//! * Bounded: at most [`ArchiveLimits::max_entries`] entries, each file at
//!   most [`ArchiveLimits::max_file_bytes`] and all of them together at
//!   most [`ArchiveLimits::max_total_bytes`] once decompressed, which is
//!   what stops a decompression bomb: reading stops at the first byte past
//!   a limit.

use std::io::Read;

/// Limits on one archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Most entries (files and directories).
    pub max_entries: usize,
    /// Largest single file, decompressed.
    pub max_file_bytes: u64,
    /// All files together, decompressed.
    pub max_total_bytes: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_entries: 10_000,
            max_file_bytes: 64 * 1024 * 1024,
            max_total_bytes: 256 * 1024 * 1024,
        }
    }
}

/// One file of an archive: its normalised path and its bytes.
pub type ArchiveFile = (String, Vec<u8>);

/// Decompresses and reads `gz`, returning the files sorted by path, or a
/// sentence saying why the archive is refused.
pub fn read_tar_gz(gz: &[u8], limits: &ArchiveLimits) -> Result<Vec<ArchiveFile>, String> {
    if gz.len() < 2 || gz[0] != 0x1f || gz[1] != 0x8b {
        return Err("not a gzip-compressed tarball".into());
    }
    let decoder = flate2::read::GzDecoder::new(gz);
    // The total limit also bounds tar headers and padding.
    let bounded = decoder.take(limits.max_total_bytes.saturating_add(1 << 20));
    let mut archive = tar::Archive::new(bounded);
    let mut files: Vec<ArchiveFile> = Vec::new();
    let mut total: u64 = 0;
    let entries = archive
        .entries()
        .map_err(|e| format!("unreadable tarball: {e}"))?;
    for (n, entry) in entries.enumerate() {
        if n >= limits.max_entries {
            return Err(format!("more than {} entries", limits.max_entries));
        }
        let mut entry = entry.map_err(|e| format!("unreadable tarball: {e}"))?;
        let raw = String::from_utf8(entry.path_bytes().into_owned())
            .map_err(|_| "an entry name is not UTF-8".to_string())?;
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            normalise(&raw, true)?;
            continue;
        }
        if !kind.is_file() {
            let what = if kind.is_symlink() {
                "a symlink"
            } else if kind.is_hard_link() {
                "a hard link"
            } else {
                "not a regular file"
            };
            return Err(format!("entry {} is {what}", quote(&raw)));
        }
        let path = normalise(&raw, false)?;
        let size = entry
            .header()
            .size()
            .map_err(|e| format!("entry {}: {e}", quote(&raw)))?;
        if size > limits.max_file_bytes {
            return Err(format!(
                "{path} is {size} bytes, over the {} byte limit",
                limits.max_file_bytes
            ));
        }
        let mut bytes = Vec::with_capacity(size.min(1 << 20) as usize);
        (&mut entry)
            .take(limits.max_file_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{path}: unreadable: {e}"))?;
        if bytes.len() as u64 > limits.max_file_bytes {
            return Err(format!(
                "{path} is over the {} byte limit",
                limits.max_file_bytes
            ));
        }
        total += bytes.len() as u64;
        if total > limits.max_total_bytes {
            return Err(format!(
                "the files add up to more than {} bytes decompressed",
                limits.max_total_bytes
            ));
        }
        files.push((path, bytes));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = files.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!("{} appears twice", w[0].0));
    }
    Ok(files)
}

/// `/a/./b.rego` → `a/b.rego`; refuses traversal and odd names.
fn normalise(raw: &str, dir: bool) -> Result<String, String> {
    if raw.contains('\\') || raw.contains('\0') {
        return Err(format!(
            "entry {} has a backslash or NUL in its name",
            quote(raw)
        ));
    }
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(format!("entry {} leaves the bundle root", quote(raw))),
            p if p.len() >= 2 && p.as_bytes()[1] == b':' => {
                return Err(format!("entry {} has a drive prefix", quote(raw)))
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() && !dir {
        return Err(format!("entry {} has no name", quote(raw)));
    }
    Ok(parts.join("/"))
}

fn quote(s: &str) -> String {
    let s: String = s
        .chars()
        .take(200)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_gz(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        let tar = b.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        gz.finish().unwrap()
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, name: &str, body: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        // set_path refuses `..`; write the raw name as a hostile archive would.
        let bytes = name.as_bytes();
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        h.set_cksum();
        b.append(&h, body).unwrap();
    }

    #[test]
    fn reads_files_with_opa_names() {
        let gz = tar_gz(|b| {
            file(b, "/data.json", b"{}");
            file(b, "/a/./p.rego", b"package a");
        });
        let files = read_tar_gz(&gz, &ArchiveLimits::default()).unwrap();
        let names: Vec<_> = files.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(names, ["a/p.rego", "data.json"]);
    }

    #[test]
    fn refuses_traversal_links_duplicates_and_bombs() {
        let lim = ArchiveLimits::default();
        let trav = tar_gz(|b| file(b, "/../etc/p.rego", b"x"));
        assert!(read_tar_gz(&trav, &lim)
            .unwrap_err()
            .contains("leaves the bundle root"));
        let link = tar_gz(|b| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, "p.rego", "/etc/passwd").unwrap();
        });
        assert!(read_tar_gz(&link, &lim).unwrap_err().contains("symlink"));
        let dup = tar_gz(|b| {
            file(b, "/p.rego", b"x");
            file(b, "p.rego", b"y");
        });
        assert!(read_tar_gz(&dup, &lim).unwrap_err().contains("twice"));
        let bomb = tar_gz(|b| file(b, "/data.json", &vec![b' '; 4 << 20]));
        assert!(bomb.len() < 64 * 1024);
        let small = ArchiveLimits {
            max_total_bytes: 1 << 20,
            max_file_bytes: 8 << 20,
            ..lim
        };
        assert!(read_tar_gz(&bomb, &small)
            .unwrap_err()
            .contains("decompressed"));
        assert!(read_tar_gz(b"PK\x03\x04", &lim)
            .unwrap_err()
            .contains("gzip"));
        let mut truncated = tar_gz(|b| file(b, "/p.rego", &[b'x'; 5000]));
        truncated.truncate(truncated.len() / 2);
        assert!(read_tar_gz(&truncated, &lim).is_err());
    }
}
