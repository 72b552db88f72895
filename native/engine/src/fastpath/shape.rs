//! The part of an input a fast-path program can read, and its extraction.
//!
//! A tree program reads the input only at the paths its lowering recorded
//! (`input.user.roles`, `input.action`, ...), and its guards inspect only
//! their own paths. A [`Shape`] is the union of those paths as a tree of
//! object keys; below a path's end (or its first key that is not a string,
//! or a guard's iteration step) the whole value is needed, and each such
//! place is a numbered slot.
//!
//! [`Shape::read_text`] parses JSON text straight into regorus's values of
//! those slots and nothing else: the objects on the way are not built, and
//! everything outside the shape is parsed, validated exactly as a full parse
//! would validate it, and dropped. A [`Place`] then says where a path's
//! value is: a slot, and the keys still to index within it with regorus's
//! own rules. Reading a path this way gives what reading it on the whole
//! input would: a key outside the shape is never read, a missing key leaves
//! its slots undefined, a value that is not an object where the shape
//! expects one has no keys for regorus either (its slots stay undefined),
//! and of repeated keys the last wins, as in a full parse.

use std::fmt;

use regorus::Value;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::abs::Step;

/// The input paths a program and its guards read.
#[derive(Debug, Default)]
pub(crate) struct Shape {
    root: Node,
    slots: usize,
}

#[derive(Debug, Default)]
struct Node {
    /// The whole value below this node is read.
    whole: bool,
    /// Object keys read below this node (when not `whole`).
    children: Vec<(Value, Node)>,
    /// The node's slots: `start` is its own when `whole`; `start..end`
    /// holds every slot below it.
    start: usize,
    end: usize,
}

/// Where a path's value is: a slot, and the keys below it.
#[derive(Debug, Clone)]
pub(crate) struct Place<K> {
    pub(crate) slot: usize,
    pub(crate) rest: Vec<K>,
}

impl Node {
    fn child(&mut self, key: &Value) -> &mut Node {
        let i = match self.children.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                self.children.push((key.clone(), Node::default()));
                self.children.len() - 1
            }
        };
        &mut self.children[i].1
    }

    fn set_whole(&mut self) {
        self.whole = true;
        self.children.clear();
    }

    fn find(&self, key: &str) -> Option<usize> {
        self.children
            .iter()
            .position(|(k, _)| matches!(k, Value::String(s) if s.as_ref() == key))
    }

    fn number(&mut self, next: &mut usize) {
        self.start = *next;
        if self.whole {
            *next += 1;
        } else {
            for (_, c) in &mut self.children {
                c.number(next);
            }
        }
        self.end = *next;
    }
}

impl Shape {
    /// The shape that keeps the whole input (one slot).
    #[cfg(test)]
    pub(crate) fn whole() -> Self {
        let mut s = Shape::default();
        s.root.set_whole();
        s.finish();
        s
    }

    /// Adds a path the program reads: static keys below `input`; the whole
    /// value is read from its first key that is not a string.
    pub(crate) fn add_keys(&mut self, keys: &[Value]) {
        let mut node = &mut self.root;
        for k in keys {
            if node.whole {
                return;
            }
            if !matches!(k, Value::String(_)) {
                break;
            }
            node = node.child(k);
        }
        node.set_whole();
    }

    /// Adds a guard's path: the whole value is needed from its first step
    /// that is not a string key.
    pub(crate) fn add_steps(&mut self, steps: &[Step]) {
        let mut node = &mut self.root;
        for s in steps {
            if node.whole {
                return;
            }
            match s {
                Step::Key(k @ Value::String(_)) => node = node.child(k),
                _ => break,
            }
        }
        node.set_whole();
    }

    /// Numbers the slots; call after the last `add_*`.
    pub(crate) fn finish(&mut self) {
        let mut next = 0;
        self.root.number(&mut next);
        self.slots = next;
    }

    /// Where the value below static keys `keys` is (`None` unless the path
    /// was added with [`Shape::add_keys`]).
    pub(crate) fn place_keys(&self, keys: &[Value]) -> Option<Place<Value>> {
        let mut node = &self.root;
        let mut i = 0;
        while !node.whole {
            let next = keys
                .get(i)
                .and_then(|k| node.children.iter().find(|(c, _)| c == k));
            node = &next?.1;
            i += 1;
        }
        Some(Place {
            slot: node.start,
            rest: keys[i..].to_vec(),
        })
    }

    /// Where a guard's path starts (`None` unless the path was added with
    /// [`Shape::add_steps`]).
    pub(crate) fn place_steps(&self, steps: &[Step]) -> Option<Place<Step>> {
        let mut node = &self.root;
        let mut i = 0;
        while !node.whole {
            let next = match steps.get(i) {
                Some(Step::Key(k)) => node.children.iter().find(|(c, _)| c == k),
                _ => None,
            };
            node = &next?.1;
            i += 1;
        }
        Some(Place {
            slot: node.start,
            rest: steps[i..].to_vec(),
        })
    }

    /// Fills `out` with the slots of JSON `text`, which must be one whole
    /// JSON value; refuses exactly the texts serde_json's full parse refuses.
    pub(crate) fn read_text(
        &self,
        text: &str,
        out: &mut Vec<Value>,
    ) -> Result<(), serde_json::Error> {
        reset(out, self.slots);
        let mut de = serde_json::Deserializer::from_str(text);
        Pick {
            node: &self.root,
            out,
        }
        .deserialize(&mut de)?;
        de.end()
    }

    /// Fills `out` with the slots of an already parsed input.
    pub(crate) fn read_json(
        &self,
        j: &serde_json::Value,
        out: &mut Vec<Value>,
    ) -> Result<(), serde_json::Error> {
        reset(out, self.slots);
        pick_json(&self.root, j, out)
    }

    /// Fills `out` for no input: every slot undefined.
    pub(crate) fn none(&self, out: &mut Vec<Value>) {
        reset(out, self.slots);
    }
}

fn reset(out: &mut Vec<Value>, n: usize) {
    out.clear();
    out.resize(n, Value::Undefined);
}

fn pick_json(
    node: &Node,
    j: &serde_json::Value,
    out: &mut [Value],
) -> Result<(), serde_json::Error> {
    if node.whole {
        out[node.start] = Value::deserialize(j)?;
        return Ok(());
    }
    if let serde_json::Value::Object(m) = j {
        for (k, child) in &node.children {
            if let Some(c) = k.as_string().ok().and_then(|s| m.get(s.as_ref())) {
                pick_json(child, c, out)?;
            }
        }
    }
    Ok(())
}

/// Parses one value at `node` into its slots.
struct Pick<'s, 'o> {
    node: &'s Node,
    out: &'o mut [Value],
}

impl<'de> DeserializeSeed<'de> for Pick<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.node.whole {
            self.out[self.node.start] = Value::deserialize(d)?;
            Ok(())
        } else {
            // A repeated key replaces what an earlier one filled.
            self.out[self.node.start..self.node.end].fill(Value::Undefined);
            d.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for Pick<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let node = self.node;
        while let Some(found) = map.next_key_seed(KeyOf(node))? {
            match found {
                Some(i) => map.next_value_seed(Pick {
                    node: &node.children[i].1,
                    out: &mut *self.out,
                })?,
                None => {
                    map.next_value::<Checked>()?;
                }
            }
        }
        Ok(())
    }

    // Not an object: no key below it can be read, so its slots stay
    // undefined; the value is still checked as a full parse would.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        Ok(())
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        finite(v)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// regorus refuses a non-finite number wherever a document enters.
fn finite<E: de::Error>(v: f64) -> Result<(), E> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(E::custom(format!(
            "invalid non-finite number in input: {v}"
        )))
    }
}

/// An object key: the index of the shape's child it names, if any.
struct KeyOf<'s>(&'s Node);

impl<'de> DeserializeSeed<'de> for KeyOf<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyOf<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, k: &str) -> Result<Option<usize>, E> {
        Ok(self.0.find(k))
    }
}

/// A value parsed and checked (strings, escapes, numbers, nesting) as a
/// full parse would, then dropped without being built.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Checked, D::Error> {
        d.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_key::<Checked>()?.is_some() {
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Checked, E> {
        finite(v).map(|_| Checked)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(k: &str) -> Value {
        Value::from(k)
    }

    const PATHS: &[&[&str]] = &[&["user", "roles"], &["user", "id"], &["action"], &["items"]];

    /// Reads `input.user.roles`, `input.user.id`, `input.action`,
    /// `input.items[0]`, and a guard over `input.tags[_]`.
    fn shape() -> Shape {
        let mut sh = Shape::default();
        for p in PATHS {
            sh.add_keys(&p.iter().map(|k| s(k)).collect::<Vec<_>>());
        }
        sh.add_keys(&[s("items"), Value::from(0u64)]);
        sh.add_steps(&[Step::Key(s("tags")), Step::Each]);
        sh.finish();
        sh
    }

    fn read<'v>(v: &'v Value, keys: &[Value]) -> &'v Value {
        keys.iter().fold(v, |v, k| &v[k])
    }

    fn read_slots<'v>(sh: &Shape, slots: &'v [Value], keys: &[Value]) -> &'v Value {
        let p = sh.place_keys(keys).unwrap();
        read(&slots[p.slot], &p.rest)
    }

    #[test]
    fn shaped_paths_read_as_on_the_whole_input() {
        let docs = [
            r#"{"user":{"id":"u1","roles":["a","b"],"secret":{"deep":[1,2,{"x":null}]}},"action":"read","items":[{"k":1},2],"tags":{"t":"v"},"other":1.5e3}"#,
            r#"{"user":"not an object","action":7}"#,
            r#"{"user":{"roles":1},"user":{"id":"last wins"}}"#,
            r#"{"action":{"a":1},"action":"x"}"#,
            r#"{"user":{"id":"x"},"user":5}"#,
            r#"[1,2,3]"#,
            r#""just a string""#,
            r#"null"#,
            r#"{}"#,
            r#"{"user":{"id":"\u00e9\ud83d\ude00","roles":[]},"a\"b":"\n"}"#,
            r#"{"items":{"0":"object, not array"},"tags":[1,[2]]}"#,
        ];
        let sh = shape();
        let tags = sh.place_steps(&[Step::Key(s("tags")), Step::Each]).unwrap();
        assert!(matches!(tags.rest.as_slice(), [Step::Each]));
        let (mut from_text, mut from_json) = (Vec::new(), Vec::new());
        for d in docs {
            let whole = Value::from_json_str(d).unwrap();
            let parsed: serde_json::Value = serde_json::from_str(d).unwrap();
            sh.read_text(d, &mut from_text).unwrap();
            sh.read_json(&parsed, &mut from_json).unwrap();
            assert_eq!(from_text, from_json, "{d}");
            let mut paths: Vec<Vec<Value>> = PATHS
                .iter()
                .map(|p| p.iter().map(|k| s(k)).collect())
                .collect();
            paths.push(vec![s("items"), Value::from(0u64)]);
            for keys in &paths {
                assert_eq!(
                    read_slots(&sh, &from_text, keys),
                    read(&whole, keys),
                    "{d} at {keys:?}"
                );
            }
            assert_eq!(from_text[tags.slot], whole[&s("tags")], "{d}");
        }
    }

    #[test]
    fn refuses_what_a_full_parse_refuses_even_where_unread() {
        let bad = [
            r#"{"other":"\ud800"}"#,
            r#"{"other":1e400}"#,
            r#"{"other":"\x"}"#,
            "{\"other\":\"a\u{1}b\"}",
            r#"{"other":[1,]}"#,
            r#"{"other":{"k":}}"#,
            r#"{"\ud800":1}"#,
            r#"{"action":"x"} trailing"#,
            r#"{"action":"x""#,
            r#"[1e999]"#,
        ];
        let sh = shape();
        let mut out = Vec::new();
        for d in bad {
            assert!(serde_json::from_str::<serde_json::Value>(d).is_err(), "{d}");
            assert!(sh.read_text(d, &mut out).is_err(), "accepted {d}");
        }
    }

    #[test]
    fn the_whole_shape_is_the_whole_input() {
        let d = r#"{"a":[1,{"b":"c"}],"d":null}"#;
        let mut out = Vec::new();
        Shape::whole().read_text(d, &mut out).unwrap();
        assert_eq!(out, vec![Value::from_json_str(d).unwrap()]);
    }
}
