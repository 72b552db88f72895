//! Go's `fmt.Sprintf`, for the four kinds of argument OPA's `sprintf`
//! hands it: `int64`, `*big.Int`, `float64` and `string` (ported from Go's
//! `fmt/print.go`, `fmt/format.go`, `strconv/ftoa.go` and `math/big`'s
//! `Int.Format`). Every verb, flag, width, precision and argument index
//! answers as Go does, including Go's in-band errors: `%!d(string=a)`,
//! `%!d(MISSING)`, `%!(EXTRA int64=2)`, `%!(NOVERB)`, `%!d(BADINDEX)`.
//!
//! Floating-point digits come from Rust's formatter: its shortest digits
//! and its correctly rounded fixed digits (ties to even) are Go's. The
//! binary and hexadecimal float verbs (`%b`, `%x`, `%X` of a float) and
//! `%p` of a big integer (a memory address in Go) are errors here.

use anyhow::{bail, Result};
use num_bigint::BigInt;

use super::gofloat::format_float;
use super::goquote::{can_backquote, is_print, quote, quote_rune};

/// One argument, as OPA converts it for Go.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    /// An integer within 64 bits (`int64`).
    Int(i64),
    /// A larger integer (`*big.Int`).
    Big(BigInt),
    /// A number with a fraction or an exponent (`float64`).
    Float(f64),
    /// A string, or another value's Rego text (`string`).
    Str(String),
}

impl Arg {
    /// Go's `reflect.TypeOf(arg).String()`.
    fn type_name(&self) -> &'static str {
        match self {
            Arg::Int(_) => "int64",
            Arg::Big(_) => "*big.Int",
            Arg::Float(_) => "float64",
            Arg::Str(_) => "string",
        }
    }
}

/// Go's `fmt` flags, width and precision for one verb.
#[derive(Debug, Default, Clone)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: usize,
    wid_present: bool,
    prec: usize,
    prec_present: bool,
}

/// The printer: Go's `pp` and `fmt` together.
struct Printer<'a> {
    buf: String,
    f: Flags,
    args: &'a [Arg],
    reordered: bool,
    good_arg_num: bool,
}

/// Go's limit on widths, precisions and argument indexes.
fn too_large(x: i64) -> bool {
    !(-1_000_000..=1_000_000).contains(&x)
}

/// Go's `parsenum`: digits at `start..end` of `s`.
fn parse_num(s: &[u8], start: usize, end: usize) -> (usize, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let mut num: i64 = 0;
    let mut is_num = false;
    let mut i = start;
    while i < end && s[i].is_ascii_digit() {
        if too_large(num) {
            return (0, false, end);
        }
        num = num * 10 + i64::from(s[i] - b'0');
        is_num = true;
        i += 1;
    }
    (num as usize, is_num, i)
}

/// Go's `parseArgNumber` of `[n]` at the start of `s`: index, width, ok.
fn parse_arg_number(s: &[u8]) -> (i64, usize, bool) {
    if s.len() < 3 {
        return (0, 1, false);
    }
    for i in 1..s.len() {
        if s[i] == b']' {
            let (n, ok, newi) = parse_num(s, 1, i);
            if !ok || newi != i {
                return (0, i + 1, false);
            }
            return (n as i64 - 1, i + 1, true);
        }
    }
    (0, 1, false)
}

impl Printer<'_> {
    /// Go's `writePadding`.
    fn write_padding(&mut self, n: usize) {
        let c = if self.f.zero && !self.f.minus {
            '0'
        } else {
            ' '
        };
        self.buf.extend(std::iter::repeat_n(c, n));
    }

    /// Go's `pad`/`padString`: width in code points.
    fn pad(&mut self, s: &str) {
        if !self.f.wid_present || self.f.wid == 0 {
            self.buf.push_str(s);
            return;
        }
        let width = self.f.wid.saturating_sub(s.chars().count());
        if self.f.minus {
            self.buf.push_str(s);
            self.write_padding(width);
        } else {
            self.write_padding(width);
            self.buf.push_str(s);
        }
    }

    /// `pad` with the zero flag off (Go's integers and specials).
    fn pad_spaces(&mut self, s: &str) {
        let zero = std::mem::replace(&mut self.f.zero, false);
        self.pad(s);
        self.f.zero = zero;
    }

    /// Go's `truncateString`: at most `prec` code points.
    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        if self.f.prec_present {
            if let Some((i, _)) = s.char_indices().nth(self.f.prec) {
                return &s[..i];
            }
        }
        s
    }

    /// Go's `fmt.fmtInteger`.
    fn fmt_integer(&mut self, u: u64, base: u32, signed: bool, verb: char, upper: bool) {
        let negative = signed && (u as i64) < 0;
        let u = if negative { u.wrapping_neg() } else { u };
        let mut prec = 0usize;
        if self.f.prec_present {
            prec = self.f.prec;
            if prec == 0 && u == 0 {
                let zero = std::mem::replace(&mut self.f.zero, false);
                self.write_padding(self.f.wid);
                self.f.zero = zero;
                return;
            }
        } else if self.f.zero && !self.f.minus && self.f.wid_present {
            prec = self.f.wid;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let mut digits = match base {
            2 => format!("{u:b}"),
            8 => format!("{u:o}"),
            16 if upper => format!("{u:X}"),
            16 => format!("{u:x}"),
            _ => u.to_string(),
        };
        if digits.len() < prec {
            digits = format!("{}{digits}", "0".repeat(prec - digits.len()));
        }
        let mut prefix = String::new();
        if self.f.sharp {
            match base {
                2 => prefix.push_str("0b"),
                8 if !digits.starts_with('0') => prefix.push('0'),
                16 => prefix.push_str(if upper { "0X" } else { "0x" }),
                _ => {}
            }
        }
        if verb == 'O' {
            prefix.insert_str(0, "0o");
        }
        let sign = if negative {
            "-"
        } else if self.f.plus {
            "+"
        } else if self.f.space {
            " "
        } else {
            ""
        };
        self.pad_spaces(&format!("{sign}{prefix}{digits}"));
    }

    /// Go's `fmtUnicode`.
    fn fmt_unicode(&mut self, u: u64) {
        let prec = if self.f.prec_present && self.f.prec > 4 {
            self.f.prec
        } else {
            4
        };
        let mut s = format!("U+{:0prec$X}", u);
        if self.f.sharp {
            if let Some(c) = u32::try_from(u)
                .ok()
                .and_then(char::from_u32)
                .filter(|&c| is_print(c))
            {
                s.push_str(&format!(" '{c}'"));
            }
        }
        self.pad_spaces(&s);
    }

    /// An integer's rune, as Go's `fmtC` takes it (`U+FFFD` if invalid).
    fn rune(u: u64) -> char {
        u32::try_from(u)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{fffd}')
    }

    /// Go's `pp.fmtInteger` for an `int64`.
    fn int_verb(&mut self, i: i64, verb: char, arg: &Arg) -> Result<()> {
        let u = i as u64;
        match verb {
            'v' | 'd' => self.fmt_integer(u, 10, true, verb, false),
            'b' => self.fmt_integer(u, 2, true, verb, false),
            'o' | 'O' => self.fmt_integer(u, 8, true, verb, false),
            'x' => self.fmt_integer(u, 16, true, verb, false),
            'X' => self.fmt_integer(u, 16, true, verb, true),
            'c' => {
                let c = Self::rune(u);
                self.pad(&c.to_string());
            }
            'q' => {
                let q = quote_rune(Self::rune(u), self.f.plus);
                self.pad(&q);
            }
            'U' => self.fmt_unicode(u),
            _ => self.bad_verb(verb, arg)?,
        }
        Ok(())
    }

    /// Go's `fmt.fmtFloat`.
    fn fmt_float(&mut self, v: f64, verb: char, default_prec: i32) -> Result<()> {
        let prec = if self.f.prec_present {
            self.f.prec as i32
        } else {
            default_prec
        };
        let text = format_float(v, verb, prec)?;
        let mut num: Vec<char> = Vec::with_capacity(text.len() + 1);
        if text.starts_with(['-', '+']) {
            num.extend(text.chars());
        } else {
            num.push('+');
            num.extend(text.chars());
        }
        if self.f.space && num[0] == '+' && !self.f.plus {
            num[0] = ' ';
        }
        if num[1] == 'I' || num[1] == 'N' {
            if num[1] == 'N' && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            let s: String = num.into_iter().collect();
            self.pad_spaces(&s);
            return Ok(());
        }
        if self.f.sharp {
            let mut digits: i32 = match verb {
                'v' | 'g' | 'G' => {
                    if prec == -1 {
                        6
                    } else {
                        prec
                    }
                }
                _ => 0,
            };
            let mut tail: Vec<char> = Vec::new();
            let mut has_point = false;
            let mut saw_nonzero = false;
            let mut i = 1;
            while i < num.len() {
                match num[i] {
                    '.' => has_point = true,
                    'e' | 'E' => {
                        tail.extend(num.drain(i..));
                        break;
                    }
                    c => {
                        if c != '0' {
                            saw_nonzero = true;
                        }
                        if saw_nonzero {
                            digits -= 1;
                        }
                    }
                }
                i += 1;
            }
            if !has_point {
                if num.len() == 2 && num[1] == '0' {
                    digits -= 1;
                }
                num.push('.');
            }
            while digits > 0 {
                num.push('0');
                digits -= 1;
            }
            num.extend(tail);
        }
        let s: String = num.iter().collect();
        if self.f.plus || num[0] != '+' {
            if self.f.zero && !self.f.minus && self.f.wid_present && self.f.wid > num.len() {
                self.buf.push(num[0]);
                self.write_padding(self.f.wid - num.len());
                self.buf.push_str(&s[num[0].len_utf8()..]);
                return Ok(());
            }
            self.pad(&s);
            return Ok(());
        }
        self.pad(&s[1..]);
        Ok(())
    }

    /// Go's `pp.fmtFloat`.
    fn float_verb(&mut self, v: f64, verb: char, arg: &Arg) -> Result<()> {
        match verb {
            'v' => self.fmt_float(v, 'g', -1),
            'g' | 'G' => self.fmt_float(v, verb, -1),
            'f' | 'e' | 'E' => self.fmt_float(v, verb, 6),
            'F' => self.fmt_float(v, 'f', 6),
            'b' | 'x' | 'X' => {
                bail!("the %{verb} verb of a floating-point number is not supported")
            }
            _ => self.bad_verb(verb, arg),
        }
    }

    /// Go's `fmtSbx` for a string.
    fn fmt_sx(&mut self, s: &str, upper: bool) {
        let b = s.as_bytes();
        let mut length = b.len();
        if self.f.prec_present && self.f.prec < length {
            length = self.f.prec;
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if self.f.wid_present {
                self.write_padding(self.f.wid);
            }
            return;
        }
        if self.f.wid_present && self.f.wid > width && !self.f.minus {
            self.write_padding(self.f.wid - width);
        }
        let x = if upper { "0X" } else { "0x" };
        if self.f.sharp {
            self.buf.push_str(x);
        }
        for (i, byte) in b[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push_str(x);
                }
            }
            if upper {
                self.buf.push_str(&format!("{byte:02X}"));
            } else {
                self.buf.push_str(&format!("{byte:02x}"));
            }
        }
        if self.f.wid_present && self.f.wid > width && self.f.minus {
            self.write_padding(self.f.wid - width);
        }
    }

    /// Go's `fmtQ`.
    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        if self.f.sharp && can_backquote(s) {
            self.pad(&format!("`{s}`"));
            return;
        }
        let q = quote(s, self.f.plus);
        self.pad(&q);
    }

    /// Go's `pp.fmtString`.
    fn string_verb(&mut self, s: &str, verb: char, arg: &Arg) -> Result<()> {
        match verb {
            'v' if self.f.sharp_v => self.fmt_q(s),
            'v' | 's' => {
                let t = self.truncate(s).to_string();
                self.pad(&t);
            }
            'x' => self.fmt_sx(s, false),
            'X' => self.fmt_sx(s, true),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, arg)?,
        }
        Ok(())
    }

    /// `math/big`'s `Int.Format`.
    fn big_verb(&mut self, x: &BigInt, verb: char) -> Result<()> {
        let base = match verb {
            'b' => 2,
            'o' | 'O' => 8,
            'd' | 's' | 'v' => 10,
            'x' | 'X' => 16,
            'p' | 'w' => bail!("the %{verb} verb of a big integer is not supported"),
            _ => {
                self.buf.push_str(&format!("%!{verb}(big.Int={x})"));
                return Ok(());
            }
        };
        let text = x.to_str_radix(base);
        let (neg, mut digits) = match text.strip_prefix('-') {
            Some(d) => (true, d.to_string()),
            None => (false, text),
        };
        let sign = if neg {
            "-"
        } else if self.f.plus || self.f.plus_v {
            "+"
        } else if self.f.space {
            " "
        } else {
            ""
        };
        let mut prefix = "";
        if self.f.sharp || self.f.sharp_v {
            prefix = match verb {
                'b' => "0b",
                'o' => "0",
                'x' => "0x",
                'X' => "0X",
                _ => "",
            };
        }
        if verb == 'O' {
            prefix = "0o";
        }
        if verb == 'X' {
            digits = digits.to_uppercase();
        }
        let mut zeros = 0usize;
        if self.f.prec_present {
            if digits.len() < self.f.prec {
                zeros = self.f.prec - digits.len();
            } else if digits == "0" && self.f.prec == 0 {
                return Ok(());
            }
        }
        let length = sign.len() + prefix.len() + zeros + digits.len();
        let (mut left, mut right) = (0usize, 0usize);
        if self.f.wid_present && length < self.f.wid {
            let d = self.f.wid - length;
            if self.f.minus {
                right = d;
            } else if self.f.zero && !self.f.prec_present {
                zeros = d;
            } else {
                left = d;
            }
        }
        self.buf.extend(std::iter::repeat_n(' ', left));
        self.buf.push_str(sign);
        self.buf.push_str(prefix);
        self.buf.extend(std::iter::repeat_n('0', zeros));
        self.buf.push_str(&digits);
        self.buf.extend(std::iter::repeat_n(' ', right));
        Ok(())
    }

    /// Go's `badVerb`: `%!verb(type=value)`.
    fn bad_verb(&mut self, verb: char, arg: &Arg) -> Result<()> {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        self.buf.push_str(arg.type_name());
        self.buf.push('=');
        self.print_arg(arg, 'v')?;
        self.buf.push(')');
        Ok(())
    }

    /// Go's `printArg`.
    fn print_arg(&mut self, arg: &Arg, verb: char) -> Result<()> {
        if verb == 'T' {
            let t = self.truncate(arg.type_name()).to_string();
            self.pad(&t);
            return Ok(());
        }
        match arg {
            Arg::Big(x) => self.big_verb(x, verb),
            _ if verb == 'p' => self.bad_verb(verb, arg),
            Arg::Int(i) => self.int_verb(*i, verb, arg),
            Arg::Float(f) => self.float_verb(*f, verb, arg),
            Arg::Str(s) => self.string_verb(s, verb, arg),
        }
    }

    /// Go's `argNumber`.
    fn arg_number(&mut self, arg_num: usize, format: &[u8], i: usize) -> (usize, usize, bool) {
        if format.len() <= i || format[i] != b'[' {
            return (arg_num, i, false);
        }
        self.reordered = true;
        let (index, wid, ok) = parse_arg_number(&format[i..]);
        if ok && index >= 0 && (index as usize) < self.args.len() {
            return (index as usize, i + wid, true);
        }
        self.good_arg_num = false;
        (arg_num, i + wid, ok)
    }

    /// Go's `intFromArg`: a width or precision taken from an argument.
    fn int_from_arg(&self, arg_num: usize) -> (i64, bool, usize) {
        let Some(arg) = self.args.get(arg_num) else {
            return (0, false, arg_num);
        };
        let (num, is_int) = match arg {
            Arg::Int(i) => (*i, true),
            _ => (0, false),
        };
        if too_large(num) {
            return (0, false, arg_num + 1);
        }
        (num, is_int, arg_num + 1)
    }

    /// Go's `doPrintf`.
    fn do_printf(&mut self, format: &str) -> Result<()> {
        let fb = format.as_bytes();
        let end = fb.len();
        let mut arg_num = 0usize;
        let mut after_index;
        let mut i = 0usize;
        'format: while i < end {
            self.good_arg_num = true;
            let last = i;
            while i < end && fb[i] != b'%' {
                i += 1;
            }
            if i > last {
                self.buf.push_str(&format[last..i]);
            }
            if i >= end {
                break;
            }
            i += 1;
            self.f = Flags::default();
            while i < end {
                match fb[i] {
                    b'#' => self.f.sharp = true,
                    b'0' => self.f.zero = true,
                    b'+' => self.f.plus = true,
                    b'-' => self.f.minus = true,
                    b' ' => self.f.space = true,
                    c => {
                        if c.is_ascii_lowercase() && arg_num < self.args.len() {
                            if c == b'v' || c == b'w' {
                                self.f.sharp_v = self.f.sharp;
                                self.f.sharp = false;
                                self.f.plus_v = self.f.plus;
                                self.f.plus = false;
                            }
                            let arg = self.args[arg_num].clone();
                            self.verb(&arg, c as char)?;
                            arg_num += 1;
                            i += 1;
                            continue 'format;
                        }
                        break;
                    }
                }
                i += 1;
            }
            (arg_num, i, after_index) = self.arg_number(arg_num, fb, i);
            if i < end && fb[i] == b'*' {
                i += 1;
                let (w, ok, next) = self.int_from_arg(arg_num);
                arg_num = next;
                self.f.wid_present = ok;
                if !ok {
                    self.buf.push_str("%!(BADWIDTH)");
                }
                if w < 0 {
                    self.f.minus = true;
                    self.f.zero = false;
                }
                self.f.wid = w.unsigned_abs() as usize;
                after_index = false;
            } else {
                let (w, ok, next) = parse_num(fb, i, end);
                (self.f.wid, self.f.wid_present, i) = (w, ok, next);
                if after_index && ok {
                    self.good_arg_num = false;
                }
            }
            if i + 1 < end && fb[i] == b'.' {
                i += 1;
                if after_index {
                    self.good_arg_num = false;
                }
                (arg_num, i, after_index) = self.arg_number(arg_num, fb, i);
                if i < end && fb[i] == b'*' {
                    i += 1;
                    let (p, ok, next) = self.int_from_arg(arg_num);
                    arg_num = next;
                    let (p, ok) = if p < 0 { (0, false) } else { (p, ok) };
                    self.f.prec = p as usize;
                    self.f.prec_present = ok;
                    if !ok {
                        self.buf.push_str("%!(BADPREC)");
                    }
                    after_index = false;
                } else {
                    let (p, ok, next) = parse_num(fb, i, end);
                    i = next;
                    (self.f.prec, self.f.prec_present) = if ok { (p, true) } else { (0, true) };
                }
            }
            if !after_index {
                (arg_num, i, _) = self.arg_number(arg_num, fb, i);
            }
            if i >= end {
                self.buf.push_str("%!(NOVERB)");
                break;
            }
            let verb = format[i..].chars().next().unwrap_or('\u{fffd}');
            i += verb.len_utf8();
            if verb == '%' {
                self.buf.push('%');
            } else if !self.good_arg_num {
                self.buf.push_str(&format!("%!{verb}(BADINDEX)"));
            } else if arg_num >= self.args.len() {
                self.buf.push_str(&format!("%!{verb}(MISSING)"));
            } else {
                if verb == 'v' || verb == 'w' {
                    self.f.sharp_v = self.f.sharp;
                    self.f.sharp = false;
                    self.f.plus_v = self.f.plus;
                    self.f.plus = false;
                }
                let arg = self.args[arg_num].clone();
                self.verb(&arg, verb)?;
                arg_num += 1;
            }
        }
        if !self.reordered && arg_num < self.args.len() {
            self.f = Flags::default();
            self.buf.push_str("%!(EXTRA ");
            for (n, arg) in self.args[arg_num..].iter().enumerate() {
                if n > 0 {
                    self.buf.push_str(", ");
                }
                self.buf.push_str(arg.type_name());
                self.buf.push('=');
                self.print_arg(arg, 'v')?;
            }
            self.buf.push(')');
        }
        Ok(())
    }

    /// One verb of one argument; `%w` (an error to wrap in Go) is a bad
    /// verb for every kind OPA passes.
    fn verb(&mut self, arg: &Arg, verb: char) -> Result<()> {
        if verb == 'w' && !matches!(arg, Arg::Big(_)) {
            return self.bad_verb(verb, arg);
        }
        self.print_arg(arg, verb)
    }
}

/// Go's `fmt.Sprintf(format, args...)`.
pub(crate) fn sprintf(format: &str, args: &[Arg]) -> Result<String> {
    let mut p = Printer {
        buf: String::new(),
        f: Flags::default(),
        args,
        reordered: false,
        good_arg_num: true,
    };
    p.do_printf(format)?;
    Ok(p.buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(format: &str, args: &[Arg]) -> String {
        sprintf(format, args).unwrap()
    }

    #[test]
    fn integers_and_strings_as_go_prints_them() {
        let s = |t: &str| Arg::Str(t.into());
        assert_eq!(
            go(
                "%d|%5d|%-5d|%05d|%+d|%x|%#x|%X|%o|%#o|%O|%b",
                &[
                    Arg::Int(42),
                    Arg::Int(42),
                    Arg::Int(42),
                    Arg::Int(-42),
                    Arg::Int(42),
                    Arg::Int(255),
                    Arg::Int(255),
                    Arg::Int(255),
                    Arg::Int(8),
                    Arg::Int(8),
                    Arg::Int(8),
                    Arg::Int(5),
                ]
            ),
            "42|   42|42   |-0042|+42|ff|0xff|FF|10|010|0o10|101"
        );
        assert_eq!(
            go(
                "%s|%5s|%-5s|%.2s|%q|%x|% x|%v",
                &[
                    s("a"),
                    s("a"),
                    s("a"),
                    s("héllo"),
                    s("a\"b"),
                    s("hi"),
                    s("hi"),
                    s("x")
                ]
            ),
            "a|    a|a    |hé|\"a\\\"b\"|6869|68 69|x"
        );
        assert_eq!(
            go(
                "%c|%U|%#U|%q",
                &[Arg::Int(65), Arg::Int(0x1F600), Arg::Int(65), Arg::Int(65)]
            ),
            "A|U+1F600|U+0041 'A'|'A'"
        );
        assert_eq!(
            go("%.3d|%.0d|%8.3d", &[Arg::Int(7), Arg::Int(0), Arg::Int(-7)]),
            "007||    -007"
        );
    }

    #[test]
    fn go_in_band_errors() {
        assert_eq!(go("%d", &[Arg::Str("a".into())]), "%!d(string=a)");
        assert_eq!(go("%s", &[Arg::Int(1)]), "%!s(int64=1)");
        assert_eq!(go("%.2f", &[Arg::Int(1)]), "%!f(int64=01)");
        assert_eq!(go("%d %d", &[Arg::Int(1)]), "1 %!d(MISSING)");
        assert_eq!(
            go("%d", &[Arg::Int(1), Arg::Int(2), Arg::Str("x".into())]),
            "1%!(EXTRA int64=2, string=x)"
        );
        assert_eq!(go("%", &[]), "%!(NOVERB)");
        assert_eq!(go("%[3]d", &[Arg::Int(1)]), "%!d(BADINDEX)");
        assert_eq!(go("%[2]d %[1]d", &[Arg::Int(1), Arg::Int(2)]), "2 1");
        assert_eq!(go("%*d", &[Arg::Int(4), Arg::Int(1)]), "   1");
        assert_eq!(
            go("%*d", &[Arg::Str("x".into()), Arg::Int(1)]),
            "%!(BADWIDTH)1"
        );
        assert_eq!(go("%t", &[Arg::Str("true".into())]), "%!t(string=true)");
        assert_eq!(go("%e", &[Arg::Int(1000)]), "%!e(int64=1000)");
        assert_eq!(
            go("%T %T", &[Arg::Float(1.0), Arg::Str(String::new())]),
            "float64 string"
        );
        assert_eq!(go("100%%", &[]), "100%");
    }

    #[test]
    fn floats_as_go_prints_them() {
        let f = Arg::Float;
        assert_eq!(
            go(
                "%v|%v|%v|%v|%v|%v",
                &[f(1e6), f(123456.0), f(1.5e-7), f(-0.0), f(1e30), f(0.1)]
            ),
            "1e+06|123456|1.5e-07|-0|1e+30|0.1"
        );
        assert_eq!(
            go(
                "%f|%.2f|%e|%E|%.3e|%g|%.3g|%G",
                &[
                    f(1.5),
                    f(2.675),
                    f(1000.0),
                    f(1e-10),
                    f(123456.0),
                    f(1e21),
                    f(1234.5678),
                    f(1e-7)
                ]
            ),
            "1.500000|2.67|1.000000e+03|1.000000E-10|1.235e+05|1e+21|1.23e+03|1E-07"
        );
        assert_eq!(
            go(
                "%8.2f|%-8.2f|%08.2f|%+.1f|% .1f|%#g|%#.3g|%#v",
                &[
                    f(3.24159),
                    f(3.24159),
                    f(-3.24159),
                    f(2.0),
                    f(2.0),
                    f(1.0),
                    f(2.0),
                    f(1.0)
                ]
            ),
            "    3.24|3.24    |-0003.24|+2.0| 2.0|1.00000|2.00|1"
        );
        assert_eq!(
            go(
                "%.0f|%.0f|%.1f|%.0g|%g",
                &[f(0.5), f(2.5), f(0.25), f(0.0), f(0.0)]
            ),
            "0|2|0.2|0|0"
        );
        assert_eq!(go("%d", &[f(1.5)]), "%!d(float64=1.5)");
        assert!(sprintf("%x", &[f(1.5)]).is_err());
    }

    #[test]
    fn big_integers_as_math_big_prints_them() {
        let big: BigInt = "18446744073709551616".parse().unwrap();
        assert_eq!(go("%d|%x|%#X|%30d|%-22d|%+d|%s|%q", &[
            Arg::Big(big.clone()), Arg::Big(big.clone()), Arg::Big(big.clone()), Arg::Big(big.clone()),
            Arg::Big(big.clone()), Arg::Big(big.clone()), Arg::Big(big.clone()), Arg::Big(big.clone()),
        ]), "18446744073709551616|10000000000000000|0X10000000000000000|          18446744073709551616|18446744073709551616  |+18446744073709551616|18446744073709551616|%!q(big.Int=18446744073709551616)");
    }
}
