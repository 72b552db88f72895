//! Values across the boundary (docs/engine.md, "Values on every path").
//!
//! In: a Python value becomes the JSON text the engine reads, as the sidecar
//! path's `json.dumps` would write it (same accepted types, same refusals),
//! within the engine's input limits, so that a huge, deep or cyclic input
//! stops early with a typed error. Out: the engine's JSON becomes Python
//! values directly: integers exact (`int`), other numbers `float`, sets
//! already sorted lists.

use std::io::Write;

use coresdk_engine::EngineError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// Why an input cannot be handed to the engine: a stable code and a message
/// that quotes no input value.
pub(crate) struct InputProblem {
    /// `ERR_INPUT_INVALID`, `ERR_INPUT_TOO_DEEP` or `ERR_INPUT_TOO_LARGE`.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

impl From<EngineError> for InputProblem {
    fn from(e: EngineError) -> Self {
        InputProblem {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

fn invalid(message: impl Into<String>) -> InputProblem {
    InputProblem {
        code: "ERR_INPUT_INVALID",
        message: format!("invalid input: {}", message.into()),
    }
}

/// A value's type name, for messages (never its value).
fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Writes Python values as JSON text within the limits.
struct Writer<'a, 'py> {
    out: Vec<u8>,
    max_bytes: usize,
    max_depth: usize,
    /// The containers being written (cycle detection, bounded by `max_depth`).
    open: Vec<*mut pyo3::ffi::PyObject>,
    py: Python<'py>,
    _value: std::marker::PhantomData<&'a ()>,
}

/// `value` as JSON text (`""` for `None`: no input), or why not.
pub(crate) fn to_json_text(
    value: &Bound<'_, PyAny>,
    max_bytes: usize,
    max_depth: usize,
) -> Result<String, InputProblem> {
    if value.is_none() {
        return Ok(String::new());
    }
    let mut w = Writer {
        out: Vec::with_capacity(128),
        max_bytes,
        max_depth,
        open: Vec::new(),
        py: value.py(),
        _value: std::marker::PhantomData,
    };
    w.value(value)?;
    // Every piece written is valid UTF-8 (Rust strings and ASCII).
    String::from_utf8(w.out).map_err(|_| invalid("not valid UTF-8"))
}

impl Writer<'_, '_> {
    fn check_size(&self) -> Result<(), InputProblem> {
        if self.out.len() > self.max_bytes {
            return Err(EngineError::InputTooLarge {
                size: self.out.len(),
                limit: self.max_bytes,
            }
            .into());
        }
        Ok(())
    }

    fn string(&mut self, s: &Bound<'_, PyString>) -> Result<(), InputProblem> {
        let text = s
            .to_str()
            .map_err(|_| invalid("a string is not valid Unicode (lone surrogate)"))?;
        serde_json::to_writer(&mut self.out, text).map_err(|e| invalid(e.to_string()))?;
        self.check_size()
    }

    fn enter(&mut self, v: &Bound<'_, PyAny>) -> Result<(), InputProblem> {
        if self.open.len() + 1 > self.max_depth {
            return Err(EngineError::InputTooDeep {
                limit: self.max_depth,
            }
            .into());
        }
        let ptr = v.as_ptr();
        if self.open.contains(&ptr) {
            return Err(invalid("Circular reference detected"));
        }
        self.open.push(ptr);
        Ok(())
    }

    fn value(&mut self, v: &Bound<'_, PyAny>) -> Result<(), InputProblem> {
        if v.is_none() {
            self.out.extend_from_slice(b"null");
        } else if let Ok(s) = v.cast::<PyString>() {
            self.string(s)?;
        } else if let Ok(b) = v.cast::<PyBool>() {
            let text: &[u8] = if b.is_true() { b"true" } else { b"false" };
            self.out.extend_from_slice(text);
        } else if v.is_instance_of::<PyInt>() {
            self.int(v)?;
        } else if let Ok(f) = v.cast::<PyFloat>() {
            self.float(f.value())?;
        } else if let Ok(d) = v.cast::<PyDict>() {
            self.enter(v)?;
            self.out.push(b'{');
            for (i, (k, item)) in d.iter().enumerate() {
                if i > 0 {
                    self.out.push(b',');
                }
                self.key(&k)?;
                self.out.push(b':');
                self.value(&item)?;
            }
            self.out.push(b'}');
            self.open.pop();
        } else if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
            self.enter(v)?;
            self.out.push(b'[');
            for (i, item) in v
                .try_iter()
                .map_err(|_| invalid("unreadable sequence"))?
                .enumerate()
            {
                if i > 0 {
                    self.out.push(b',');
                }
                let item = item.map_err(|_| invalid("unreadable sequence"))?;
                self.value(&item)?;
            }
            self.out.push(b']');
            self.open.pop();
        } else {
            let name = v
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_else(|_| "?".into());
            return Err(invalid(format!(
                "Object of type {name} is not JSON serializable"
            )));
        }
        self.check_size()
    }

    /// An integer, exact: within 64 bits directly, beyond as its digits
    /// (the engine then refuses what a double cannot hold, as on the
    /// sidecar path).
    fn int(&mut self, v: &Bound<'_, PyAny>) -> Result<(), InputProblem> {
        if let Ok(i) = v.extract::<i64>() {
            write!(self.out, "{i}").map_err(|e| invalid(e.to_string()))
        } else if let Ok(u) = v.extract::<u64>() {
            write!(self.out, "{u}").map_err(|e| invalid(e.to_string()))
        } else {
            // int.__repr__ of an int subclass could be overridden; the base one is the digits.
            let digits = self
                .py
                .get_type::<PyInt>()
                .call_method1("__repr__", (v,))
                .and_then(|r| r.extract::<String>())
                .map_err(|_| invalid("an integer cannot be written"))?;
            self.out.extend_from_slice(digits.as_bytes());
            Ok(())
        }
    }

    fn float(&mut self, f: f64) -> Result<(), InputProblem> {
        if !f.is_finite() {
            return Err(invalid("Out of range float values are not JSON compliant"));
        }
        serde_json::to_writer(&mut self.out, &f).map_err(|e| invalid(e.to_string()))
    }

    /// An object key: a string, or what `json.dumps` turns into one (an
    /// integer, a float, a boolean, `None`).
    fn key(&mut self, k: &Bound<'_, PyAny>) -> Result<(), InputProblem> {
        if let Ok(s) = k.cast::<PyString>() {
            return self.string(s);
        }
        let text = if k.is_none() {
            "null".to_string()
        } else if let Ok(b) = k.cast::<PyBool>() {
            if b.is_true() { "true" } else { "false" }.to_string()
        } else if k.is_instance_of::<PyInt>() {
            let start = self.out.len();
            self.int(k)?;
            let digits = String::from_utf8_lossy(&self.out[start..]).into_owned();
            self.out.truncate(start);
            digits
        } else if let Ok(f) = k.cast::<PyFloat>() {
            let f = f.value();
            if !f.is_finite() {
                return Err(invalid("Out of range float values are not JSON compliant"));
            }
            k.repr()
                .and_then(|r| r.extract::<String>())
                .map_err(|_| invalid("a key cannot be written"))?
        } else {
            return Err(invalid(format!(
                "keys must be str, int, float, bool or None, not {}",
                type_name(k)
            )));
        };
        serde_json::to_writer(&mut self.out, &text).map_err(|e| invalid(e.to_string()))
    }
}

/// The engine's JSON value as a Python value.
pub(crate) fn to_py<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        serde_json::Value::Null => py.None().into_bound(py),
        serde_json::Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any()
            }
        }
        serde_json::Value::String(s) => PyString::new(py, s).into_any(),
        serde_json::Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        serde_json::Value::Object(map) => object_to_py(py, map)?.into_any(),
    })
}

/// A JSON object (verified claims, a decision) as a `dict`.
pub(crate) fn object_to_py<'py>(
    py: Python<'py>,
    map: &serde_json::Map<String, serde_json::Value>,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (k, item) in map {
        dict.set_item(k, to_py(py, item)?)?;
    }
    Ok(dict)
}
