//! A small JSON object writer for the telemetry hand-off: records are
//! written straight into one `String`, with no intermediate
//! `serde_json::Value` maps (building and dropping those cost more than the
//! rest of a batch). Strings are escaped per RFC 8259.

use std::fmt::Write as _;

/// Appends `s` as a JSON string literal.
pub fn push_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[run..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{:04x}", b);
            }
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// One JSON object being written: `{"k":v,...}`.
pub struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    /// Opens an object at the end of `out`.
    pub fn open(out: &'a mut String) -> Obj<'a> {
        out.push('{');
        Obj { out, first: true }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_str(self.out, k);
        self.out.push(':');
    }

    /// A string member.
    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        push_str(self.out, v);
        self
    }

    /// A string member, or `null`.
    pub fn opt_str(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.str(k, v),
            None => self.raw(k, "null"),
        }
    }

    /// An integer member.
    pub fn int(&mut self, k: &str, v: i64) -> &mut Self {
        self.key(k);
        let _ = write!(self.out, "{v}");
        self
    }

    /// A number member (non-finite numbers are written as `null`).
    pub fn float(&mut self, k: &str, v: f64) -> &mut Self {
        if !v.is_finite() {
            return self.raw(k, "null");
        }
        self.key(k);
        let _ = write!(self.out, "{v}");
        self
    }

    /// `[seconds, nanoseconds]`.
    pub fn pair(&mut self, k: &str, v: [u64; 2]) -> &mut Self {
        self.key(k);
        let _ = write!(self.out, "[{},{}]", v[0], v[1]);
        self
    }

    /// A member whose value is already JSON text.
    pub fn raw(&mut self, k: &str, json: &str) -> &mut Self {
        self.key(k);
        self.out.push_str(json);
        self
    }

    /// A nested object member, written by `f`.
    pub fn obj(&mut self, k: &str, f: impl FnOnce(&mut Obj<'_>)) -> &mut Self {
        self.key(k);
        let mut inner = Obj::open(self.out);
        f(&mut inner);
        inner.close();
        self
    }

    /// Closes the object.
    pub fn close(self) {
        self.out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_valid_json_that_round_trips() {
        let tricky = "quote \" backslash \\ newline \n tab \t nul \0 bell \u{7} é 😀";
        let mut out = String::new();
        let mut o = Obj::open(&mut out);
        o.str("s", tricky)
            .opt_str("none", None)
            .int("i", -42)
            .float("f", 0.5)
            .float("nan", f64::NAN)
            .pair("t", [1, 2])
            .obj("nested", |n| {
                n.str("k", "v");
            });
        o.close();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["s"], tricky);
        assert!(v["none"].is_null() && v["nan"].is_null());
        assert_eq!(v["i"], -42);
        assert_eq!(v["f"], 0.5);
        assert_eq!(v["t"], serde_json::json!([1, 2]));
        assert_eq!(v["nested"]["k"], "v");
    }
}
