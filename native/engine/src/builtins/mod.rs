//! CoreSDK's own implementations of the builtins where regorus 0.14.1
//! answers differently from OPA, registered in place of regorus's (an
//! extension of the same name is found before a builtin) and called by the
//! fast path's tree evaluator too, so every evaluator answers as OPA does.
//!
//! | builtin | regorus 0.14.1 | here (OPA) |
//! |---|---|---|
//! | `count(string)` | UTF-16 units | code points |
//! | `lower`, `upper` | full Unicode mappings, final sigma | simple mapping, rune by rune |
//! | `glob.match` | `":"` is never a delimiter | gobwas/glob's syntax and delimiters |
//! | `glob.quote_meta` | escapes only `*` | every metacharacter |
//! | `sprintf` | its own formatter: `%s` of a number prints it, `%d` of a string prints nothing, no widths, errors for a missing or extra argument, `%v` of a double with every digit | Go's `fmt.Sprintf` on OPA's conversion of the arguments ([`sprintf`], [`gofmt`]) |
//! | `net.cidr_contains` | an IPv4-mapped IPv6 address is not its IPv4 address | Go's `net` ([`net`]) |
//! | `regex.*` | Unicode `\d`, `\w`, `\s`, `\b`; accepts what RE2 refuses | RE2's ASCII classes; RE2's syntax |
//! | `+ - * / %`, `sum`, `product` | IEEE doubles | integers exact; non-integers only where a double is exact, else an error (see [`arith`]) |
//! | `substring` | a non-integer offset or length answers `""`; a negative length is the byte length | an error; the rest of the text ([`strings`]) |
//! | `array.slice` | a non-integer index answers undefined | an error ([`array`]) |
//! | `indexof`, `indexof_n` | an empty search text answers `0`, every position | an error ([`strings`]) |
//! | `strings.count` | overlapping matches; panics on an empty text | Go's `strings.Count` ([`strings`]) |
//! | `to_number` | trims spaces (`" 1"` is 1) | an error ([`cast`]) |
//! | `ceil`, `floor` | `ceil(-0.5)` is 0, `floor(-0.5)` -1 | OPA's 1 and 0 ([`rounding`]) |
//! | `ceil`, `floor`, `round`, `format_int` from 2^64 up | the double's value; `format_int` of a negative one `"-"` | OPA's 64-bit float where it is the decimal, else an error ([`rounding`]) |
//! | `time.date`, `time.clock`, `time.weekday`, `graph.reachable` | a value outside OPA's declared type answered | an error ([`declared`]): OPA refuses such a value where its type checker sees it |
//! | `json.unmarshal`, `bits.*`, `numbers.range*`, `units.parse*` | big integers beyond 64 bits, rounded JSON numbers, binary operands | held to the rule for numbers from 2^64 up ([`wide`], [`crate::numbers`]) |
//! | `urlquery.decode` | keeps a bad escape (`%zz`) | an error ([`uri`]) |
//! | `semver.is_valid`, `semver.compare` | the `semver` crate: `"v1.0.0"` is invalid | OPA's parser, which drops a leading `v` ([`semver`]) |
//! | `strings.replace_n` | key by key over the whole text (a replacement replaced again) | Go's `strings.NewReplacer` in key order ([`replace`]) |
//! | `uuid.parse` | the `uuid` crate's variant names (`"NCS"`), a `time` for versions 6 and 7 | Google's `uuid` and OPA's fields ([`uuid`]) |
//!
//! And builtins regorus 0.14.1 lacks, as OPA computes them:
//!
//! | builtin | module |
//! |---|---|
//! | `strings.split_n` | [`strings`] |
//! | `array.flatten` | [`array`] |
//! | `regex.globs_match` | [`globs`] (OPA's glob-intersection) |
//! | `crypto.md5`, `crypto.sha1`, `crypto.sha256`, `crypto.hmac.md5`, `crypto.hmac.sha1`, `crypto.hmac.sha256`, `crypto.hmac.sha512`, `crypto.hmac.equal` | [`digest`] |
//! | `uri.parse`, `uri.is_valid` | [`uri`] (Go's `net/url`) |
//! | `net.cidr_merge`, `net.cidr_intersects`, `net.cidr_contains_matches`, `net.cidr_overlap` | [`cidr`] (Go's `net`) |
//! | `io.jwt.decode`, `io.jwt.decode_verify`, `io.jwt.verify_{rs,ps,es}{256,384,512}`, `io.jwt.verify_eddsa`, `io.jwt.verify_hs{256,384,512}`, `io.jwt.encode_sign`, `io.jwt.encode_sign_raw` | [`jwt`] (the verifier's aws-lc-rs; stricter than OPA where RFC 8725 is) |
//!
//! A builtin error is an evaluation error (strict builtin errors, as the
//! engine always evaluates).

pub(crate) mod arith;
mod array;
mod cast;
mod cidr;
mod declared;
mod delegate;
mod digest;
mod glob;
mod globs;
mod gofloat;
mod gofmt;
mod goquote;
mod json_text;
mod jwt;
mod net;
mod order;
mod regex;
mod rego_text;
mod replace;
mod rounding;
mod semver;
mod sprintf;
mod strings;
mod subset;
mod timeparse;
mod uri;
mod uuid;
pub(crate) mod wide;

use anyhow::{bail, Result};
use regorus::Value;

/// A builtin's implementation: its arguments, all defined.
pub(crate) type Fcn = fn(&[Value]) -> Result<Value>;

/// The builtins implemented here: name, arity, function.
const TABLE: &[(&str, u8, Fcn)] = &[
    ("count", 1, strings::count),
    ("lower", 1, strings::lower),
    ("sum", 1, arith::sum),
    ("product", 1, arith::product),
    ("upper", 1, strings::upper),
    ("substring", 3, strings::substring),
    ("array.slice", 3, array::slice),
    ("indexof", 2, strings::indexof),
    ("indexof_n", 2, strings::indexof_n),
    ("strings.count", 2, strings::count_matches),
    ("to_number", 1, cast::to_number),
    ("ceil", 1, rounding::ceil),
    ("floor", 1, rounding::floor),
    ("round", 1, rounding::round),
    ("format_int", 2, rounding::format_int),
    ("json.unmarshal", 1, wide::json_unmarshal),
    ("time.date", 1, declared::time_date),
    ("time.clock", 1, declared::time_clock),
    ("time.weekday", 1, declared::time_weekday),
    ("graph.reachable", 2, declared::graph_reachable),
    ("bits.and", 2, wide::bits_and),
    ("bits.or", 2, wide::bits_or),
    ("bits.xor", 2, wide::bits_xor),
    ("bits.negate", 1, wide::bits_negate),
    ("bits.lsh", 2, wide::bits_lsh),
    ("bits.rsh", 2, wide::bits_rsh),
    ("numbers.range", 2, wide::numbers_range),
    ("numbers.range_step", 3, wide::numbers_range_step),
    ("units.parse", 1, wide::units_parse),
    ("units.parse_bytes", 1, wide::units_parse_bytes),
    ("urlquery.decode", 1, uri::query_decode),
    ("urlquery.decode_object", 1, uri::query_decode_object),
    ("semver.is_valid", 1, semver::is_valid),
    ("semver.compare", 2, semver::semver_compare),
    ("uuid.parse", 1, uuid::uuid_parse),
    ("glob.match", 3, glob::glob_match),
    ("net.cidr_contains", 2, net::cidr_contains),
    ("sprintf", 2, sprintf::sprintf),
    ("glob.quote_meta", 1, glob::quote_meta),
    ("regex.match", 2, regex::regex_match),
    ("regex.is_valid", 1, regex::is_valid),
    ("regex.split", 2, regex::split),
    ("regex.find_n", 3, regex::find_n),
    (
        "regex.find_all_string_submatch_n",
        3,
        regex::find_all_string_submatch_n,
    ),
    ("regex.replace", 3, regex::replace),
    ("regex.template_match", 4, regex::template_match),
    ("object.subset", 2, subset::object_subset_builtin),
    ("json.marshal", 1, json_text::marshal),
    (
        "json.marshal_with_options",
        2,
        json_text::marshal_with_options,
    ),
    ("json.is_valid", 1, json_text::is_valid),
    ("time.parse_rfc3339_ns", 1, timeparse::parse_rfc3339_ns),
    ("time.parse_ns", 2, timeparse::parse_ns),
    // The arithmetic operators, as the front end writes them.
    ("__coresdk.plus", 2, arith::plus),
    ("__coresdk.minus", 2, arith::minus),
    ("__coresdk.mul", 2, arith::mul),
    ("__coresdk.div", 2, arith::div),
    ("__coresdk.rem", 2, arith::rem),
    // A computed key into base data, as OPA's storage reads it.
    ("__coresdk.key", 1, data_key),
    ("__coresdk.index", 1, data_index),
    // The collection of `some .. in`: a scalar has no elements, as in OPA.
    ("__coresdk.iter", 1, iter),
    ("__coresdk.order", 2, order::order),
    // A policy literal with an exponent and an integral value, as OPA
    // reads it: a floating-point number (regorus reads an integer).
    ("__coresdk.float", 1, float_literal),
    ("sort", 1, order::sort),
    ("max", 1, order::max),
    ("min", 1, order::min),
    // General builtins regorus 0.14.1 lacks (issue 28): strings, arrays,
    // globs, digests and HMACs, URIs, CIDRs.
    ("strings.split_n", 3, strings::split_n),
    ("strings.replace_n", 2, replace::replace_n),
    ("array.flatten", 1, array::flatten),
    ("regex.globs_match", 2, globs::globs_match),
    ("crypto.md5", 1, digest::md5),
    ("crypto.sha1", 1, digest::sha1),
    ("crypto.sha256", 1, digest::sha256),
    ("crypto.hmac.md5", 2, digest::hmac_md5),
    ("crypto.hmac.sha1", 2, digest::hmac_sha1),
    ("crypto.hmac.sha256", 2, digest::hmac_sha256),
    ("crypto.hmac.sha512", 2, digest::hmac_sha512),
    ("crypto.hmac.equal", 2, digest::hmac_equal),
    ("uri.parse", 1, uri::parse),
    ("uri.is_valid", 1, uri::is_valid),
    ("net.cidr_merge", 1, cidr::cidr_merge),
    ("net.cidr_intersects", 2, cidr::cidr_intersects),
    ("net.cidr_contains_matches", 2, cidr::cidr_contains_matches),
    ("net.cidr_overlap", 2, cidr::cidr_overlap),
    // io.jwt.* (issue 28): OPA's JWT builtins on the verifier's cryptography.
    ("io.jwt.decode", 1, jwt::decode),
    ("io.jwt.decode_verify", 2, jwt::decode_verify),
    ("io.jwt.verify_rs256", 2, jwt::verify_rs256),
    ("io.jwt.verify_rs384", 2, jwt::verify_rs384),
    ("io.jwt.verify_rs512", 2, jwt::verify_rs512),
    ("io.jwt.verify_ps256", 2, jwt::verify_ps256),
    ("io.jwt.verify_ps384", 2, jwt::verify_ps384),
    ("io.jwt.verify_ps512", 2, jwt::verify_ps512),
    ("io.jwt.verify_es256", 2, jwt::verify_es256),
    ("io.jwt.verify_es384", 2, jwt::verify_es384),
    ("io.jwt.verify_es512", 2, jwt::verify_es512),
    ("io.jwt.verify_eddsa", 2, jwt::verify_eddsa),
    ("io.jwt.verify_hs256", 2, jwt::verify_hs256),
    ("io.jwt.verify_hs384", 2, jwt::verify_hs384),
    ("io.jwt.verify_hs512", 2, jwt::verify_hs512),
    ("io.jwt.encode_sign", 3, jwt::encode_sign),
    ("io.jwt.encode_sign_raw", 3, jwt::encode_sign_raw),
];

/// The implementation of builtin `name`, when CoreSDK has its own.
pub(crate) fn lookup(name: &str) -> Option<Fcn> {
    TABLE
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, f)| *f)
}

/// The arity of builtin `name`, when CoreSDK implements it (regorus knows
/// only its own builtins' arities, so the front end writes the output
/// argument of a call to one of these, `f(a, out)`, as `f(a) = out`).
pub(crate) fn arity(name: &str) -> Option<usize> {
    TABLE
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, a, _)| usize::from(*a))
}

/// Registers every builtin of [`TABLE`] on `engine`, in place of regorus's;
/// `strict: false` turns their errors into undefined (OPA's behaviour
/// without strict builtin errors; the engine always evaluates strictly).
pub(crate) fn register(engine: &mut regorus::Engine, strict: bool) -> Result<()> {
    for (name, arity, fcn) in TABLE {
        let f = *fcn;
        let ext: Box<dyn regorus::Extension> = if strict {
            Box::new(move |args: Vec<Value>| f(&args))
        } else {
            Box::new(move |args: Vec<Value>| Ok(f(&args).unwrap_or(Value::Undefined)))
        };
        engine.add_extension((*name).to_string(), *arity, ext)?;
    }
    Ok(())
}

/// Whether `name` is one of the builtins the front end writes
/// (`__coresdk.plus`..., `__coresdk.order` and `__coresdk.key`), with
/// their arity.
pub(crate) fn internal_arity(name: &str) -> Option<usize> {
    match name.strip_prefix(arith::NAMESPACE)?.strip_prefix('.')? {
        "plus" | "minus" | "mul" | "div" | "rem" | "order" => Some(2),
        "key" | "index" | "iter" | "float" => Some(1),
        _ => None,
    }
}

/// `__coresdk.float("1e3")`: a policy literal with an exponent and an
/// integral value (the front end passes its text) as the double OPA's
/// floating-point reading of it is.
fn float_literal(args: &[Value]) -> Result<Value> {
    let text = string_operand("__coresdk.float", 1, &args[0])?;
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(Value::from(f)),
        _ => bail!("the number {text} is out of range"),
    }
}

/// `__coresdk.iter(c)`: what `some .. in c` iterates: `c` when it is a
/// collection, else nothing (OPA finds no element in a scalar; regorus
/// raises).
fn iter(args: &[Value]) -> Result<Value> {
    Ok(match &args[0] {
        Value::Array(_) | Value::Set(_) | Value::Object(_) => args[0].clone(),
        _ => Value::new_array(),
    })
}

/// `__coresdk.index(k)`: the index OPA's storage reads for `data.list[k]`
/// in a base-data array: a text that reads as an integer is that integer
/// (`"1"`, `"01"`, `"+1"`); anything else is unchanged.
fn data_index(args: &[Value]) -> Result<Value> {
    Ok(match &args[0] {
        Value::String(s) => match s.parse::<i64>() {
            Ok(i) => Value::from(i),
            Err(_) => args[0].clone(),
        },
        other => other.clone(),
    })
}

/// `__coresdk.key(k)`: the key OPA's storage looks up for `data.x[k]` in
/// base data. OPA turns a number into its text (`3` finds `"3"`, `3.0`
/// finds `"3.0"`); regorus renders the double (`3.0` finds `"3"`). A
/// number held as a double is given as its text with a fraction (`3.0`,
/// `2.5`), an integer as its digits; anything else is unchanged.
fn data_key(args: &[Value]) -> Result<Value> {
    Ok(match &args[0] {
        Value::Number(n) => match n.as_f64() {
            Some(f) if is_double(&args[0]) => Value::String(format!("{f:?}").into()),
            _ => Value::String(n.format_decimal().into()),
        },
        other => other.clone(),
    })
}

/// The compiled matcher of a `glob.match(pattern, delimiters, _)` or
/// `regex.match(pattern, _)` whose pattern (and delimiters) are constants:
/// the fast path runs it on the text alone.
pub(crate) fn constant_matcher(name: &str, args: &[Value]) -> Option<::regex::Regex> {
    match (name, args) {
        ("glob.match", [p, d]) => glob::compile_call(p, d).ok(),
        ("regex.match", [Value::String(p)]) => regex::compile(p).ok(),
        _ => None,
    }
}

/// Whether a pattern is one the regex builtins accept (RE2's syntax, as
/// OPA compiles it).
pub(crate) fn regex_pattern_ok(pattern: &str) -> bool {
    regex::compile(pattern).is_ok()
}

/// Whether `glob.match` accepts a pattern with these delimiters.
pub(crate) fn glob_pattern_ok(pattern: &str, delimiters: &[char]) -> bool {
    glob::compile(pattern, delimiters).is_ok()
}

/// OPA's name for a value's type, for error messages.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Set(_) => "set",
        Value::Object(_) => "object",
        Value::Undefined => "undefined",
    }
}

/// Whether `v` is a number regorus holds as a double (read from a text
/// with a fraction or an exponent). regorus's number type is not nameable
/// outside the crate; only a double renders a fixed-width fraction.
pub(crate) fn is_double(v: &Value) -> bool {
    matches!(v, Value::Number(n) if n.format_decimal_with_width(1).contains('.'))
}

/// Operand `pos` of `name` as a string, or OPA's operand type error.
fn string_operand<'a>(name: &str, pos: usize, v: &'a Value) -> Result<&'a str> {
    match v {
        Value::String(s) => Ok(s),
        other => bail!(
            "{name}: operand {pos} must be string but got {}",
            type_name(other)
        ),
    }
}

/// Operand `pos` of `name` as an integer, or OPA's operand error.
///
/// OPA reads an integer operand from the number's text (`util.Atoi64`):
/// `2`, `2.0` and `2.00` are integers, `1e2` and `1.0e2` are not. regorus
/// keeps no text, only whether the number was read as an integer or as a
/// double, so a double is refused even when its value is integral: `2.0`
/// raises here where OPA answers (a denial), and `1e2` (Jackson writes
/// doubles from `1.0E7` up that way) raises as in OPA instead of being
/// read as 100.
fn int_operand(name: &str, pos: usize, v: &Value) -> Result<i64> {
    let float =
        || bail!("{name}: operand {pos} must be integer number but got floating-point number");
    match v {
        Value::Number(n) => {
            if is_double(v) {
                return float();
            }
            match n.as_i64() {
                Some(i) => Ok(i),
                None => float(),
            }
        }
        other => bail!(
            "{name}: operand {pos} must be number but got {}",
            type_name(other)
        ),
    }
}
