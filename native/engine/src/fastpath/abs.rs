//! Abstract values: what the static pass knows about an expression's value
//! without evaluating it, and the input guards it derives.

use regorus::Value;

/// A set of value kinds, as bits. Undefined is never in a set: an undefined
/// operand makes every operation undefined in both evaluators, never an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ty(u8);

impl Ty {
    pub(crate) const NONE: Ty = Ty(0);
    pub(crate) const NULL: Ty = Ty(1);
    pub(crate) const BOOL: Ty = Ty(2);
    pub(crate) const NUMBER: Ty = Ty(4);
    pub(crate) const STRING: Ty = Ty(8);
    pub(crate) const ARRAY: Ty = Ty(16);
    pub(crate) const SET: Ty = Ty(32);
    pub(crate) const OBJECT: Ty = Ty(64);
    pub(crate) const ANY: Ty = Ty(127);
    pub(crate) const COLLECTION: Ty = Ty(16 | 32 | 64);
    pub(crate) const NOT_OBJECT: Ty = Ty(127 & !64);

    pub(crate) const fn union(self, other: Ty) -> Ty {
        Ty(self.0 | other.0)
    }

    /// Whether every kind in `self` is in `other`.
    pub(crate) const fn within(self, other: Ty) -> bool {
        self.0 & !other.0 == 0
    }

    /// Exactly one kind.
    pub(crate) const fn is_single(self) -> bool {
        self.0 != 0 && self.0 & (self.0 - 1) == 0
    }

    /// The kind of a concrete value (`NONE` for undefined).
    pub(crate) fn of(v: &Value) -> Ty {
        match v {
            Value::Null => Ty::NULL,
            Value::Bool(_) => Ty::BOOL,
            Value::Number(_) => Ty::NUMBER,
            Value::String(_) => Ty::STRING,
            Value::Array(_) => Ty::ARRAY,
            Value::Set(_) => Ty::SET,
            Value::Object(_) => Ty::OBJECT,
            Value::Undefined => Ty::NONE,
        }
    }
}

impl std::fmt::Display for Ty {
    /// `any kind`, `a string`, `a number or a string`: how a refusal
    /// reason names the kinds.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const NAMES: [&str; 7] = [
            "null",
            "a boolean",
            "a number",
            "a string",
            "an array",
            "a set",
            "an object",
        ];
        if *self == Ty::ANY {
            return f.write_str("any kind");
        }
        if *self == Ty::NONE {
            return f.write_str("no value");
        }
        let names: Vec<&str> = (0..7)
            .filter(|bit| self.0 & (1 << bit) != 0)
            .map(|bit| NAMES[bit])
            .collect();
        match names.split_last() {
            Some((last, [])) => f.write_str(last),
            Some((last, rest)) => write!(f, "{} or {last}", rest.join(", ")),
            None => Ok(()),
        }
    }
}

/// One step of a path into `input`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// A known key or index.
    Key(Value),
    /// Any child (a dynamic index, or iteration).
    Each,
}

/// What is known about a value.
#[derive(Clone, Debug)]
pub(crate) enum Abs {
    /// Only its possible kinds.
    Kinds(Ty),
    /// A value read from `input` at this path: any kind, but a guard can
    /// require kinds of it before the fast evaluator may answer.
    Input(Vec<Step>),
    /// One of these concrete values (from the policy's data or literals).
    Values(Vec<Value>),
    /// An object literal with constant keys: what each field can be.
    Record(Vec<(Value, Abs)>),
    /// Any one of these (a rule with several definitions, a default).
    Union(Vec<Abs>),
}

/// Unions with more alternatives than this collapse to kinds.
const MAX_ALTERNATIVES: usize = 16;

/// Candidate sets larger than this collapse to kinds.
const MAX_VALUES: usize = 4096;

impl Abs {
    /// Possible kinds.
    pub(crate) fn kinds(&self) -> Ty {
        match self {
            Abs::Kinds(t) => *t,
            Abs::Input(_) => Ty::ANY,
            Abs::Values(vs) => vs.iter().fold(Ty::NONE, |t, v| t.union(Ty::of(v))),
            Abs::Record(_) => Ty::OBJECT,
            Abs::Union(alts) => alts.iter().fold(Ty::NONE, |t, a| t.union(a.kinds())),
        }
    }

    /// Whether some alternative is read from `input` (a guard can narrow it).
    pub(crate) fn guardable(&self) -> bool {
        match self {
            Abs::Input(_) => true,
            Abs::Union(alts) => alts.iter().any(Abs::guardable),
            _ => false,
        }
    }

    /// The alternatives (itself, unless a union).
    pub(crate) fn alternatives(&self) -> &[Abs] {
        match self {
            Abs::Union(alts) => alts,
            other => std::slice::from_ref(other),
        }
    }

    /// A single known constant.
    pub(crate) fn constant(&self) -> Option<&Value> {
        match self {
            Abs::Values(vs) if vs.len() == 1 => vs.first(),
            _ => None,
        }
    }

    /// The values when the set of candidates is known.
    pub(crate) fn values(&self) -> Option<&[Value]> {
        match self {
            Abs::Values(vs) => Some(vs),
            _ => None,
        }
    }

    pub(crate) fn of_values(mut vs: Vec<Value>) -> Abs {
        vs.retain(|v| *v != Value::Undefined);
        if vs.len() > MAX_VALUES {
            return Abs::Kinds(vs.iter().fold(Ty::NONE, |t, v| t.union(Ty::of(v))));
        }
        vs.sort();
        vs.dedup();
        Abs::Values(vs)
    }

    /// Either of two abstract values.
    pub(crate) fn join(self, other: Abs) -> Abs {
        match (self, other) {
            (Abs::Values(mut a), Abs::Values(b)) => {
                a.extend(b);
                Abs::of_values(a)
            }
            (Abs::Input(a), Abs::Input(b)) if a == b => Abs::Input(a),
            (a, b) => {
                let mut alts: Vec<Abs> = Vec::new();
                for x in [a, b] {
                    match x {
                        Abs::Union(xs) => alts.extend(xs),
                        // An empty candidate set is "always undefined": no alternative.
                        Abs::Values(v) if v.is_empty() => {}
                        x => alts.push(x),
                    }
                }
                if alts.len() <= 1 {
                    return alts.pop().unwrap_or(Abs::Values(Vec::new()));
                }
                if alts.len() > MAX_ALTERNATIVES {
                    return Abs::Kinds(alts.iter().fold(Ty::NONE, |t, a| t.union(a.kinds())));
                }
                Abs::Union(alts)
            }
        }
    }

    /// The value of `self[key]`, `key` a constant when known.
    pub(crate) fn index(&self, key: Option<&Value>) -> Abs {
        match (self, key) {
            (Abs::Input(p), Some(k)) => {
                let mut p = p.clone();
                p.push(Step::Key(k.clone()));
                Abs::Input(p)
            }
            (Abs::Input(p), None) => {
                let mut p = p.clone();
                p.push(Step::Each);
                Abs::Input(p)
            }
            (Abs::Values(vs), Some(k)) => Abs::of_values(vs.iter().map(|v| v[k].clone()).collect()),
            (Abs::Values(vs), None) => Abs::of_values(children(vs)),
            (Abs::Record(fields), Some(k)) => fields
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, a)| a.clone())
                .unwrap_or(Abs::Values(Vec::new())),
            (Abs::Record(fields), None) => fields
                .iter()
                .map(|(_, a)| a.clone())
                .fold(Abs::Values(Vec::new()), Abs::join),
            (Abs::Union(alts), k) => alts
                .iter()
                .map(|a| a.index(k))
                .fold(Abs::Values(Vec::new()), Abs::join),
            (Abs::Kinds(_), _) => Abs::Kinds(Ty::ANY),
        }
    }

    /// The keys of a collection being iterated.
    pub(crate) fn keys(&self) -> Abs {
        match self {
            Abs::Values(vs) => {
                let mut out = Vec::new();
                for v in vs {
                    match v {
                        Value::Object(o) => out.extend(o.keys().cloned()),
                        Value::Set(s) => out.extend(s.iter().cloned()),
                        Value::Array(a) => {
                            out.extend((0..a.len()).map(|i| Value::from(i as u64)));
                        }
                        _ => {}
                    }
                }
                Abs::of_values(out)
            }
            Abs::Record(fields) => Abs::of_values(fields.iter().map(|(k, _)| k.clone()).collect()),
            Abs::Union(alts) => alts
                .iter()
                .map(Abs::keys)
                .fold(Abs::Values(Vec::new()), Abs::join),
            _ => Abs::Kinds(Ty::ANY),
        }
    }
}

fn children(vs: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for v in vs {
        match v {
            Value::Object(o) => out.extend(o.values().cloned()),
            Value::Set(s) => out.extend(s.iter().cloned()),
            Value::Array(a) => out.extend(a.iter().cloned()),
            _ => {}
        }
        if out.len() > MAX_VALUES * 4 {
            break;
        }
    }
    out
}

/// A requirement on the input: every value at `path` (where it exists) is
/// one of `kinds`. An input that fails a guard is evaluated by the
/// interpreter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Guard {
    pub(crate) path: Vec<Step>,
    pub(crate) kinds: Ty,
    /// The value must be defined (an undefined call argument under `not`
    /// is where regorus's two evaluators part ways).
    pub(crate) required: bool,
}

impl Guard {
    /// Whether the guard holds on `v`, the value at the start of `rest`
    /// (the tail of its path), with regorus's indexing rules.
    pub(crate) fn holds_below(&self, v: &Value, rest: &[Step]) -> bool {
        holds_at(v, rest, self)
    }
}

fn holds_at(v: &Value, path: &[Step], g: &Guard) -> bool {
    let Some((step, rest)) = path.split_first() else {
        return match v {
            Value::Undefined => !g.required,
            _ => Ty::of(v).within(g.kinds),
        };
    };
    match step {
        Step::Key(k) => match v {
            Value::Object(_) | Value::Array(_) | Value::Set(_) => holds_at(&v[k], rest, g),
            _ => !g.required,
        },
        Step::Each => match v {
            Value::Object(o) => o.values().all(|c| holds_at(c, rest, g)),
            Value::Set(s) => s.iter().all(|c| holds_at(c, rest, g)),
            Value::Array(a) => a.iter().all(|c| holds_at(c, rest, g)),
            _ => !g.required,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::Ty;

    #[test]
    fn kinds_read_as_words_in_refusal_reasons() {
        assert_eq!(Ty::ANY.to_string(), "any kind");
        assert_eq!(Ty::STRING.to_string(), "a string");
        assert_eq!(
            Ty::NUMBER.union(Ty::STRING).to_string(),
            "a number or a string"
        );
        assert_eq!(Ty::COLLECTION.to_string(), "an array, a set or an object");
        assert_eq!(Ty::NONE.to_string(), "no value");
    }
}
