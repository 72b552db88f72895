//! Property tests of every parser that reads untrusted text: compact JWS
//! tokens, JWKS documents, `coresdk.toml`, bundle directories and the PII
//! masker. Each property holds for any input: no panic, and a failure is a
//! typed error with a stable code.
//!
//! `cargo test` runs a small number of cases per property (64) so that the
//! suite stays fast; set `PROPTEST_CASES` for a long run (see
//! docs/security.md):
//!
//! ```text
//! PROPTEST_CASES=20000 cargo test --release -p coresdk-engine --test properties
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use coresdk_engine::pii::{MaskStyle, Masker, MaskerConfig};
use coresdk_engine::token::{KeySet, StaticKeys, Verifier, VerifierConfig, ALL_ALGS};
use coresdk_engine::{ConfigFile, Engine, EngineConfig};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{json, Value};

/// Cases per property: `PROPTEST_CASES` when set, else a bounded 64.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
        // Failing inputs are printed, not written into the source tree.
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..ProptestConfig::default()
    }
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{0,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JOSE header: mostly the fields a verifier looks at, with any values.
fn header() -> impl Strategy<Value = Value> {
    let alg = prop_oneof![
        prop::sample::select(vec![
            "RS256", "RS384", "PS256", "ES256", "ES384", "EdDSA", "HS256", "none", "NONE", ""
        ])
        .prop_map(Value::from),
        json_value(),
    ];
    (
        alg,
        prop::option::of(json_value()),
        prop::option::of(json_value()),
        prop::option::of(json_value()),
    )
        .prop_map(|(alg, kid, typ, crit)| {
            let mut h = serde_json::Map::new();
            h.insert("alg".into(), alg);
            for (k, v) in [("kid", kid), ("typ", typ), ("crit", crit)] {
                if let Some(v) = v {
                    h.insert(k.into(), v);
                }
            }
            Value::Object(h)
        })
}

/// A compact JWS: random text, or three base64url segments of a random
/// header, payload and signature (sometimes with one segment as raw text).
fn compact_jws() -> impl Strategy<Value = String> {
    let seg = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    prop_oneof![
        ".{0,300}",
        "[A-Za-z0-9_.=+/-]{0,300}",
        (
            header(),
            json_value(),
            prop::collection::vec(any::<u8>(), 0..300),
            ".{0,20}",
            0..5usize
        )
            .prop_map(move |(h, p, sig, raw, spoil)| {
                let mut parts = [seg(&h), seg(&p), URL_SAFE_NO_PAD.encode(sig)];
                if spoil < parts.len() {
                    parts[spoil] = raw;
                }
                parts.join(".")
            }),
    ]
}

/// A JWK with any `kty` and random key material.
fn jwk() -> impl Strategy<Value = Value> {
    let b64 = prop::collection::vec(any::<u8>(), 0..300)
        .prop_map(|b| Value::from(URL_SAFE_NO_PAD.encode(b)));
    let field = prop_oneof![b64, json_value()];
    (
        prop::sample::select(vec!["RSA", "EC", "OKP", "oct", "rsa", ""]),
        prop::sample::select(vec!["P-256", "P-384", "P-521", "Ed25519", "X25519", "secp256k1"]),
        prop::option::of(prop::sample::select(vec!["RS256", "ES256", "EdDSA", "HS256", "none"])),
        prop::option::of(prop::sample::select(vec!["sig", "enc", ""])),
        field.clone(),
        field.clone(),
        field,
    )
        .prop_map(|(kty, crv, alg, usage, a, b, c)| {
            let mut k = json!({"kty": kty, "crv": crv, "kid": "k", "n": a.clone(), "e": b.clone(), "x": a, "y": b, "k": c});
            if let Some(alg) = alg {
                k["alg"] = alg.into();
            }
            if let Some(u) = usage {
                k["use"] = u.into();
            }
            k
        })
}

/// Error codes are stable `ERR_*` strings.
fn assert_code(code: &str) {
    assert!(
        code.starts_with("ERR_") && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
        "{code}"
    );
}

/// One verifier for the JWS property: one public P-256 key (from the
/// Wycheproof vectors), whose private half no test has, so that every
/// signature check fails and parsing up to the key lookup is what runs.
fn verifier() -> Verifier {
    let jwks = r#"{"keys":[{"alg":"ES256","use":"sig","kty":"EC","crv":"P-256","kid":"k",
        "x":"04N0xi21hshyvBp7I167sbE_bXqyqkAPfefdklMO7wY","y":"UI8exy-C06a7DUnjIdENkxeFtHM4-l_41LqEw9nVgmw"}]}"#;
    let keys = StaticKeys::from_jwks(jwks, &ALL_ALGS).unwrap();
    Verifier::new(VerifierConfig::default(), Arc::new(keys))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn compact_jws_never_panics(token in compact_jws()) {
        let v = verifier();
        match v.verify_at(&token, 1_700_000_000.0) {
            Ok(_) => prop_assert!(false, "a token verified with no keys"),
            Err(e) => assert_code(e.code()),
        }
        if let Err(e) = v.verify_signature(&token) {
            assert_code(e.code());
        }
    }

    #[test]
    fn jwks_never_panics(
        text in prop_oneof![
            ".{0,400}".boxed(),
            prop::collection::vec(jwk(), 0..4).prop_map(|keys| json!({"keys": keys}).to_string()).boxed(),
            json_value().prop_map(|v| v.to_string()).boxed(),
        ]
    ) {
        match KeySet::from_jwks(&text, &ALL_ALGS) {
            Ok(set) => prop_assert!(set.len() <= 4),
            Err(e) => assert_code(e.code()),
        }
    }

    #[test]
    fn coresdk_toml_never_panics(
        text in prop_oneof![
            ".{0,300}".boxed(),
            // Known tables and keys with any TOML-ish values.
            prop::collection::vec(
                (
                    prop::sample::select(vec!["[sdk]", "[sidecar]", "[tenants.a]", "[[x]]", ""]),
                    prop::sample::select(vec![
                        "policy_dir", "fail_mode", "pool_size", "eval_timeout_ms", "pii_style",
                        "pii_patterns", "pii_entities", "listen", "tls_cert", "jwks_url", "x",
                    ]),
                    prop::sample::select(vec![
                        "\"closed\"", "\"open\"", "0", "-1", "99999999999999999999", "1.5", "true",
                        "[]", "[\"email\", 3]", "{ a = 1 }", "\"\"", "\"(\"", "'''x'''", "",
                    ]),
                ),
                0..8,
            )
            .prop_map(|lines| {
                lines.into_iter().map(|(t, k, v)| format!("{t}\n{k} = {v}\n")).collect::<String>()
            })
            .boxed(),
        ]
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("coresdk.toml");
        std::fs::write(&path, &text).unwrap();
        if let Err(e) = ConfigFile::load(Some(&path), &BTreeMap::new()) {
            assert_code(e.code());
            // The error never echoes a long stretch of the file.
            prop_assert!(e.to_string().len() < 4096);
        }
    }

    #[test]
    fn bundle_directories_never_panic(
        files in prop::collection::vec(
            (
                prop::sample::select(vec![
                    "a.rego", "b/c.rego", "data.json", "x/data.json", "x/y/data.yaml", "data.yml",
                    ".manifest", ".hidden/p.rego", "x/p.rego", "notes.txt", "d/data.json",
                ]),
                prop_oneof![
                    ".{0,120}".boxed(),
                    prop::collection::vec(any::<u8>(), 0..120)
                        .prop_map(|b| String::from_utf8_lossy(&b).into_owned())
                        .boxed(),
                    json_value().prop_map(|v| v.to_string()).boxed(),
                    prop::sample::select(vec![
                        "package p\nallow if input.x == 1\n",
                        "package p\nallow := true\n",
                        "package x\ny := data.x\n",
                        "package p\nupper := upper(input.name)\n",
                        "package p\nf(x) := x\ny := f(1, 2, 3)\n",
                        "{\"revision\": \"r1\", \"roots\": [\"p\"]}",
                        "{\"roots\": [\"\"]}",
                        "a: [1, {b: 2}]\n",
                    ])
                    .prop_map(String::from)
                    .boxed(),
                ],
            ),
            0..6,
        )
    ) {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in &files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
        if let Err(e) = coresdk_engine::read_bundle_dir(dir.path()) {
            assert_code(e.code());
        }
        let mut cfg = EngineConfig::for_dir(dir.path().to_path_buf());
        cfg.watch = false;
        if let Err(e) = Engine::new(cfg) {
            assert_code(e.code());
        }
    }
}

/// A secret of one of the credential detectors, and the text it sits in.
fn credential() -> impl Strategy<Value = (String, String)> {
    let token = "[A-Za-z0-9]{24,40}";
    prop_oneof![
        ("[a-z]{1,8}", "[A-Za-z0-9!*._~-]{6,20}").prop_map(|(u, p)| {
            let t = STANDARD.encode(format!("{u}:{p}"));
            (format!("Authorization: Basic {t}"), t)
        }),
        ("[a-z]{0,8}", "[A-Za-z0-9!*._~-]{6,20}")
            .prop_map(|(u, p)| (format!("postgres://{u}:{p}@db.internal:5432/app"), p)),
        (
            prop::sample::select(vec![
                "password",
                "api_key",
                "client_secret",
                "token",
                "x-api-key"
            ]),
            "[A-Za-z0-9][A-Za-z0-9!*_~-]{5,19}[A-Za-z0-9]"
        )
            .prop_map(|(k, v)| (format!("?{k}={v}&next=1"), v)),
        token.prop_map(|t| {
            let k = format!("sk-proj-{t}9a");
            (k.clone(), k)
        }),
        token.prop_map(|t| {
            let k = format!("sk-ant-api03-{t}9a");
            (k.clone(), k)
        }),
        "[A-Za-z0-9_-]{35}".prop_map(|t| {
            let k = format!("AIza{t}");
            (format!("key={k} "), k)
        }),
        prop::collection::vec(any::<u8>(), 32..64).prop_map(|b| {
            let k = STANDARD.encode(b);
            (
                format!("AccountName=a;AccountKey={k};EndpointSuffix=core.windows.net"),
                k,
            )
        }),
    ]
}

/// The maskers of the masking properties, built once (compiling the
/// detectors is the slow part): tag, hash and partial styles.
fn maskers() -> &'static [Masker; 3] {
    static MASKERS: OnceLock<[Masker; 3]> = OnceLock::new();
    MASKERS.get_or_init(|| {
        [
            MaskStyle::Tag,
            MaskStyle::Hash(vec![7; 32]),
            MaskStyle::Partial,
        ]
        .map(|style| {
            Masker::new(&MaskerConfig {
                style,
                ..MaskerConfig::default()
            })
            .unwrap()
        })
    })
}

/// Text that surrounds a secret: words, digits, punctuation, other scripts.
fn filler() -> impl Strategy<Value = String> {
    "[a-z0-9 .,:;()#é中]{0,40}"
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn masking_any_text_is_idempotent_and_panic_free(text in prop_oneof![
        ".{0,300}".boxed(),
        // Dense in the bytes detectors care about.
        "[ A-Za-z0-9@.:/=&?+_%'\"\\[\\]-]{0,300}".boxed(),
    ]) {
        let [tag, hash, partial] = maskers();
        for m in [tag, hash] {
            let once = m.mask(&text).into_owned();
            let twice = m.mask(&once).into_owned();
            prop_assert_eq!(&twice, &once, "not idempotent on {:?}", text);
            // The batch paths give the same answer.
            let mut counts = Default::default();
            let batch = m.mask_batch(&[text.as_str(), "x", text.as_str()], &mut counts);
            prop_assert_eq!(&batch[0], &once);
            prop_assert_eq!(&batch[2], &once);
        }
        let _ = partial.mask(&text);
    }

    #[test]
    fn masked_output_never_holds_the_secret(
        (text, secret) in credential(),
        before in filler(),
        after in filler(),
    ) {
        let line = format!("{before} {text} {after}");
        let [m, h, _] = maskers();
        let once = m.mask(&line).into_owned();
        prop_assert!(!once.contains(&secret), "{:?} -> {:?}", line, once);
        prop_assert_eq!(m.mask(&once).into_owned(), once.clone());
        prop_assert!(!h.mask(&line).contains(&secret));
    }
}

// ------------------------------------------------------------- bundle tarballs

use coresdk_engine::remote_bundle::archive::{read_tar_gz, ArchiveLimits};

/// Small limits, so that random archives cross them.
const TAR_LIMITS: ArchiveLimits = ArchiveLimits {
    max_entries: 8,
    max_file_bytes: 150,
    max_total_bytes: 400,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Symlink,
    HardLink,
    Fifo,
}

/// One raw tar entry: a name written into the header as is (no
/// normalisation by the tar crate), a kind and its bytes.
fn tar_entry() -> impl Strategy<Value = (String, Kind, Vec<u8>)> {
    let segment = prop_oneof![
        6 => "[a-z]{1,6}(\\.rego|\\.json)?".boxed(),
        1 => Just("..".to_string()).boxed(),
        1 => Just(".".to_string()).boxed(),
        1 => Just(String::new()).boxed(),
        1 => Just("c:".to_string()).boxed(),
        1 => Just("x\\y".to_string()).boxed(),
    ];
    let name = (any::<bool>(), prop::collection::vec(segment, 1..4))
        .prop_map(|(abs, parts)| format!("{}{}", if abs { "/" } else { "" }, parts.join("/")))
        .prop_filter("fits the ustar name field", |n| {
            !n.is_empty() && n.len() < 100
        });
    let kind = prop_oneof![
        8 => Just(Kind::File),
        2 => Just(Kind::Dir),
        1 => Just(Kind::Symlink),
        1 => Just(Kind::HardLink),
        1 => Just(Kind::Fifo),
    ];
    (name, kind, prop::collection::vec(any::<u8>(), 0..200))
}

fn tarball(entries: &[(String, Kind, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, data) in entries {
        let mut h = tar::Header::new_ustar();
        let field = &mut h.as_old_mut().name;
        field.fill(0);
        field[..name.len()].copy_from_slice(name.as_bytes());
        let (ty, body): (tar::EntryType, &[u8]) = match kind {
            Kind::File => (tar::EntryType::Regular, data),
            Kind::Dir => (tar::EntryType::Directory, &[]),
            Kind::Symlink => (tar::EntryType::Symlink, &[]),
            Kind::HardLink => (tar::EntryType::Link, &[]),
            Kind::Fifo => (tar::EntryType::Fifo, &[]),
        };
        h.set_entry_type(ty);
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, body).expect("append");
    }
    let tar = b.into_inner().expect("tar");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).expect("gzip");
    gz.finish().expect("gzip")
}

/// What the reader must decide, written independently of it: the first
/// entry that breaks a rule refuses the archive; otherwise the files,
/// sorted, with normalised names.
fn model(entries: &[(String, Kind, Vec<u8>)]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    let mut total = 0usize;
    for (n, (name, kind, data)) in entries.iter().enumerate() {
        if n >= TAR_LIMITS.max_entries || name.contains('\\') {
            return None;
        }
        let mut parts = Vec::new();
        for p in name.split('/') {
            match p {
                "" | "." => {}
                ".." => return None,
                p if p.len() >= 2 && p.as_bytes()[1] == b':' => return None,
                p => parts.push(p),
            }
        }
        match kind {
            Kind::Dir => continue,
            Kind::File => {}
            _ => return None,
        }
        if parts.is_empty() || data.len() as u64 > TAR_LIMITS.max_file_bytes {
            return None;
        }
        total += data.len();
        if total as u64 > TAR_LIMITS.max_total_bytes {
            return None;
        }
        files.push((parts.join("/"), data.clone()));
    }
    files.sort();
    if files.windows(2).any(|w| w[0].0 == w[1].0) {
        return None;
    }
    Some(files)
}

/// Names an accepted archive may hold.
fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\\')
        && !name.contains('\0')
        && name
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

proptest! {
    #![proptest_config(config())]

    /// Random archives (traversal, absolute and drive-prefixed names,
    /// backslashes, links, FIFOs, duplicates, sizes over the limits) are
    /// accepted exactly when the model accepts them, with the same files.
    #[test]
    fn bundle_tarballs_follow_the_rules(entries in prop::collection::vec(tar_entry(), 0..10)) {
        let got = read_tar_gz(&tarball(&entries), &TAR_LIMITS);
        match model(&entries) {
            Some(files) => prop_assert_eq!(got, Ok(files)),
            None => prop_assert!(got.is_err(), "accepted {:?}", entries),
        }
    }

    /// A damaged archive (bytes flipped or cut, in the tar stream or the
    /// gzip stream) never panics, and whatever it yields keeps the rules.
    #[test]
    fn damaged_tarballs_never_panic(
        entries in prop::collection::vec(tar_entry(), 1..6),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
        in_gzip in any::<bool>(),
    ) {
        let good = tarball(&entries);
        let mut bytes = if in_gzip {
            good
        } else {
            let mut tar = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&good[..]), &mut tar).expect("gunzip");
            tar
        };
        for (at, b) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= b | 1;
        }
        bytes.truncate(cut.index(bytes.len() + 1).max(2));
        let gz = if in_gzip {
            bytes
        } else {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut gz, &bytes).expect("gzip");
            gz.finish().expect("gzip")
        };
        if let Ok(files) = read_tar_gz(&gz, &TAR_LIMITS) {
            prop_assert!(files.len() <= TAR_LIMITS.max_entries);
            prop_assert!(files.iter().map(|f| f.1.len() as u64).sum::<u64>() <= TAR_LIMITS.max_total_bytes);
            for (name, data) in &files {
                prop_assert!(safe_name(name), "{:?}", name);
                prop_assert!(data.len() as u64 <= TAR_LIMITS.max_file_bytes);
            }
        }
    }

    /// Anything after a gzip magic number is refused or read, never a panic.
    #[test]
    fn arbitrary_bytes_as_a_tarball(tail in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut bytes = vec![0x1f, 0x8b];
        bytes.extend(tail);
        let _ = read_tar_gz(&bytes, &TAR_LIMITS);
    }
}
