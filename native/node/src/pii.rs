//! The PII masker for JavaScript: strings and span attributes in batches,
//! one call per span, counts taken in batches.

use std::sync::Mutex;

use coresdk_engine::pii::{Entity, MaskCounts, MaskStyle, Masker, MaskerConfig};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Masker options (all optional).
#[napi(object)]
pub struct NativeMaskerOptions {
    /// `tag` (default), `partial` or `hash`.
    pub style: Option<String>,
    /// HMAC key for `hash`, at least 32 bytes as hex or base64.
    pub hash_key: Option<String>,
    /// Built-in detectors to run (default: all).
    pub entities: Option<Vec<String>>,
    /// Literal terms to mask (case-insensitive, whole words).
    pub dictionary: Option<Vec<String>>,
    /// Named patterns, as `[name, regex]` pairs.
    pub patterns: Option<Vec<Vec<String>>>,
    /// Extra sensitive attribute names.
    pub sensitive_names: Option<Vec<String>>,
}

fn config_error(key: &str, message: impl std::fmt::Display) -> napi::Error {
    napi::Error::new(
        napi::Status::InvalidArg,
        format!("[ERR_CONFIG] {key}: {message}"),
    )
}

/// `null` where a value is unchanged (the caller keeps its own string, lone
/// surrogates and all), else the masked text.
pub(crate) fn mask_each(
    m: &Masker,
    values: &[String],
    counts: &mut MaskCounts,
) -> Vec<Option<String>> {
    m.mask_many(values, counts)
}

/// A compiled masker.
#[napi]
pub struct NativeMasker {
    masker: Masker,
    counts: Mutex<MaskCounts>,
    /// Whether each attribute name seen is sensitive: spans repeat the same
    /// few hundred names, so the check runs once per name, not per span.
    names: Mutex<std::collections::HashMap<String, bool>>,
}

/// Most attribute names remembered; the cache starts over past this.
const NAME_CACHE_ENTRIES: usize = 4096;

#[napi]
impl NativeMasker {
    /// Compiles the detectors; `[ERR_CONFIG]` names a bad option.
    #[napi(constructor)]
    pub fn new(options: Option<NativeMaskerOptions>) -> Result<Self> {
        let mut cfg = MaskerConfig::default();
        if let Some(o) = options {
            if let Some(list) = o.entities {
                let mut es = Vec::new();
                for e in list {
                    es.push(Entity::parse(&e).ok_or_else(|| {
                        config_error("entities", format!("unknown entity {e:?}"))
                    })?);
                }
                cfg.entities = es;
            }
            cfg.dictionary = o.dictionary.unwrap_or_default();
            for p in o.patterns.unwrap_or_default() {
                let [name, re] = <[String; 2]>::try_from(p)
                    .map_err(|_| config_error("patterns", "entries are [name, regex]"))?;
                cfg.patterns.push((name, re));
            }
            cfg.sensitive_names = o
                .sensitive_names
                .unwrap_or_default()
                .into_iter()
                .map(|n| {
                    n.chars()
                        .filter(char::is_ascii_alphanumeric)
                        .collect::<String>()
                        .to_ascii_lowercase()
                })
                .collect();
            cfg.style = match o.style.as_deref().unwrap_or("tag") {
                "tag" => MaskStyle::Tag,
                "partial" => MaskStyle::Partial,
                "hash" => {
                    let key = o
                        .hash_key
                        .as_deref()
                        .and_then(coresdk_engine::config::decode_hmac_key)
                        .ok_or_else(|| {
                            config_error(
                                "hashKey",
                                "the hash style needs a key of at least 32 bytes (hex or base64)",
                            )
                        })?;
                    MaskStyle::Hash(key)
                }
                other => {
                    return Err(config_error(
                        "style",
                        format!("must be tag, partial or hash, got {other:?}"),
                    ))
                }
            };
        }
        let masker = Masker::new(&cfg).map_err(crate::errors::to_napi)?;
        Ok(NativeMasker {
            masker,
            counts: Mutex::new(MaskCounts::new()),
            names: Mutex::new(std::collections::HashMap::new()),
        })
    }

    /// Masks each value by content; `null` where unchanged.
    #[napi]
    pub fn mask(&self, values: Vec<String>) -> Vec<Option<String>> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        mask_each(&self.masker, &values, &mut counts)
    }

    /// Masks attributes given as a flat `[name, value, name, value, ...]`
    /// list: a sensitive name masks its value whole. Returns one entry per
    /// pair, `null` where unchanged.
    #[napi]
    pub fn mask_attributes(&self, pairs: Vec<String>) -> Vec<Option<String>> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        pairs
            .chunks(2)
            .map(|kv| {
                let (k, v) = (&kv[0], kv.get(1).map(String::as_str).unwrap_or(""));
                match self.masker.mask_attribute(k, v, &mut counts) {
                    std::borrow::Cow::Borrowed(_) => None,
                    std::borrow::Cow::Owned(s) => Some(s),
                }
            })
            .collect()
    }

    /// [`NativeMasker::mask_attributes`] for hot paths: names and values
    /// each joined by NUL (`\0`), one string each way. Returns `null` when
    /// nothing changed, else the masked values joined by NUL. Callers fall
    /// back to `maskAttributes` for values that contain NUL themselves.
    #[napi]
    pub fn mask_attributes_joined(&self, names: String, values: String) -> Option<String> {
        let sensitive: Vec<bool> = {
            let mut cache = self.names.lock().unwrap_or_else(|p| p.into_inner());
            names
                .split('\0')
                .map(|k| match cache.get(k) {
                    Some(s) => *s,
                    None => {
                        let s = self.masker.is_sensitive_name(k);
                        if cache.len() >= NAME_CACHE_ENTRIES {
                            cache.clear();
                        }
                        cache.insert(k.to_string(), s);
                        s
                    }
                })
                .collect()
        };
        // One scan over every value (Masker::mask_joined), not one per value.
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        self.masker.mask_joined(&values, &sensitive, &mut counts)
    }

    /// Whether an attribute name is sensitive (its value masked whole).
    #[napi]
    pub fn is_sensitive_name(&self, name: String) -> bool {
        self.masker.is_sensitive_name(&name)
    }

    /// Values masked since the last call, by type, as JSON text.
    #[napi]
    pub fn take_counts(&self) -> String {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let out = serde_json::to_string(&*counts).unwrap_or_else(|_| "{}".into());
        counts.clear();
        out
    }
}
