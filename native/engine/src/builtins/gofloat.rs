//! Go's `strconv.FormatFloat(v, fmt, prec, 64)` for the verbs `fmt`
//! prints floats with (`e`, `E`, `f`, `g`, `G`; ported from Go's
//! `strconv/ftoa.go`). The digits come from Rust's formatter: its shortest
//! digits and its correctly rounded fixed digits (ties to even) are Go's.

use anyhow::{bail, Result};

/// Decimal digits and point position of `a` (not negative): its shortest
/// digits, or `sig` correctly rounded significant digits; trailing zeros
/// trimmed, zero as no digits (Go's `decimalSlice`).
fn digits(a: f64, sig: Option<usize>) -> (Vec<u8>, i32) {
    if a == 0.0 {
        return (Vec::new(), 0);
    }
    let text = match sig {
        None => format!("{a:e}"),
        Some(n) => format!("{:.*e}", n.saturating_sub(1), a),
    };
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    (d, exp + 1)
}

/// Go's `fmtE`.
fn fmt_e(neg: bool, d: &[u8], dp: i32, prec: i32, e: char) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push(d.first().map_or('0', |&c| c as char));
    if prec > 0 {
        out.push('.');
        let m = d.len().min(prec as usize + 1);
        let mut i = 1;
        if i < m {
            out.extend(d[i..m].iter().map(|&c| c as char));
            i = m;
        }
        while i <= prec as usize {
            out.push('0');
            i += 1;
        }
    }
    out.push(e);
    let mut exp = if d.is_empty() { 0 } else { dp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    exp = exp.abs();
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
    out
}

/// Go's `fmtF`.
fn fmt_f(neg: bool, d: &[u8], dp: i32, prec: i32) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if dp > 0 {
        let m = d.len().min(dp as usize);
        out.extend(d[..m].iter().map(|&c| c as char));
        for _ in m..dp as usize {
            out.push('0');
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 0..prec {
            let j = dp + i;
            out.push(if j >= 0 && (j as usize) < d.len() {
                d[j as usize] as char
            } else {
                '0'
            });
        }
    }
    out
}

/// Go's `strconv.FormatFloat(v, fmt, prec, 64)` for `e`, `E`, `f`, `g`, `G`.
pub(crate) fn format_float(v: f64, fmt: char, prec: i32) -> Result<String> {
    if v.is_nan() {
        return Ok("NaN".into());
    }
    if v.is_infinite() {
        return Ok(if v > 0.0 { "+Inf" } else { "-Inf" }.into());
    }
    let neg = v.is_sign_negative();
    let a = v.abs();
    let shortest = prec < 0;
    let mut prec = prec;
    let (d, dp) = match (fmt, shortest) {
        (_, true) => {
            let (d, dp) = digits(a, None);
            if !d.is_empty() {
                let nd = d.len() as i32;
                prec = match fmt {
                    'e' | 'E' => (nd - 1).max(0),
                    'f' => (nd - dp).max(0),
                    _ => nd,
                };
            }
            (d, dp)
        }
        ('e' | 'E', false) => digits(a, Some(prec as usize + 1)),
        ('f', false) => {
            let text = format!("{:.*}", prec as usize, a);
            return Ok(if neg { format!("-{text}") } else { text });
        }
        ('g' | 'G', false) => {
            if a != 0.0 && prec == 0 {
                prec = 1;
            }
            digits(a, Some(prec.max(1) as usize))
        }
        _ => bail!("the %{fmt} verb of a floating-point number is not supported"),
    };
    let nd = d.len() as i32;
    Ok(match fmt {
        'e' | 'E' => fmt_e(neg, &d, dp, prec, fmt),
        'f' => fmt_f(neg, &d, dp, prec),
        _ => {
            let mut eprec = prec;
            if eprec > nd && nd >= dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = dp - 1;
            let e = if fmt == 'g' { 'e' } else { 'E' };
            if exp < -4 || exp >= eprec {
                if prec > nd {
                    prec = nd;
                }
                fmt_e(neg, &d, dp, prec - 1, e)
            } else {
                if prec > dp {
                    prec = nd;
                }
                fmt_f(neg, &d, dp, (prec - dp).max(0))
            }
        }
    })
}
