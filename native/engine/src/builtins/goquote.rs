//! Go's `strconv` quoting (`Quote`, `QuoteToASCII`, `QuoteRune`,
//! `QuoteRuneToASCII`, `CanBackquote`, `IsPrint`), which OPA's `sprintf`
//! (`%q`) and its text of a value (a string inside an array or object)
//! write.
//!
//! `IsPrint` is Unicode's letters, marks, numbers, punctuation and
//! symbols, and the ASCII space, from ICU4X's general categories. Go's
//! tables are Unicode 15.0; ICU4X's are newer, so a code point assigned
//! since then is printed here and escaped by Go (none is in common use).

use icu_properties::props::{GeneralCategory, GeneralCategoryGroup};
use icu_properties::CodePointMapData;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Go's `strconv.IsPrint`.
pub(crate) fn is_print(c: char) -> bool {
    let u = c as u32;
    if u <= 0xff {
        return (0x20..=0x7e).contains(&u) || ((0xa1..=0xff).contains(&u) && u != 0xad);
    }
    let gc: GeneralCategory = CodePointMapData::<GeneralCategory>::new().get(c);
    [
        GeneralCategoryGroup::Letter,
        GeneralCategoryGroup::Mark,
        GeneralCategoryGroup::Number,
        GeneralCategoryGroup::Punctuation,
        GeneralCategoryGroup::Symbol,
    ]
    .iter()
    .any(|g| g.contains(gc))
}

/// `n` hex digits of `u`, lower case.
fn hex(out: &mut String, u: u32, n: u32) {
    for i in (0..n).rev() {
        out.push(HEX[((u >> (4 * i)) & 0xf) as usize] as char);
    }
}

/// Go's `appendEscapedRune` (without the graphic-only list).
fn escaped(out: &mut String, c: char, quote: char, ascii_only: bool) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    let printable = if ascii_only {
        c.is_ascii() && is_print(c)
    } else {
        is_print(c)
    };
    if printable {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => {
            out.push_str("\\x");
            hex(out, c as u32, 2);
        }
        c if (c as u32) < 0x10000 => {
            out.push_str("\\u");
            hex(out, c as u32, 4);
        }
        c => {
            out.push_str("\\U");
            hex(out, c as u32, 8);
        }
    }
}

/// Go's `strconv.Quote` (`ascii_only`: `QuoteToASCII`).
pub(crate) fn quote(s: &str, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        escaped(&mut out, c, '"', ascii_only);
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteRune` (`ascii_only`: `QuoteRuneToASCII`).
pub(crate) fn quote_rune(c: char, ascii_only: bool) -> String {
    let mut out = String::from("'");
    escaped(&mut out, c, '\'', ascii_only);
    out.push('\'');
    out
}

/// Go's `strconv.CanBackquote`.
pub(crate) fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| {
        if c.len_utf8() > 1 {
            return c != '\u{feff}';
        }
        !((c < ' ' && c != '\t') || c == '`' || c == '\u{7f}')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_as_go_does() {
        assert_eq!(quote("a\"b\\c", false), r#""a\"b\\c""#);
        assert_eq!(
            quote("é\u{a0}\u{200b}\u{7}\u{1}\u{7f}", false),
            r#""é\u00a0\u200b\a\x01\x7f""#
        );
        assert_eq!(quote("é😀", true), r#""\u00e9\U0001f600""#);
        assert_eq!(quote("😀\u{ad}", false), "\"😀\\u00ad\"");
        assert_eq!(quote_rune('\'', false), r"'\''");
        assert!(can_backquote("a\tb") && !can_backquote("a`b") && !can_backquote("a\nb"));
    }
}
