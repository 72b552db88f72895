//! `coresdk._native.Engine`: the engine as a Python class.
//!
//! Every call converts its arguments with the GIL held, releases the GIL
//! while the engine works (`Python::detach`), and converts the answer back.
//! Results are the Python package's own types (`coresdk.results`), errors
//! its `CoreSDKError` with the engine's stable code.

use std::collections::HashMap;
use std::mem::ManuallyDrop;

use coresdk_engine::{Decision, EngineError, ReloadEvent};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyCFunction, PyDict, PyList, PyString, PyTuple};

use crate::errors::{engine_error, error, new_error};
use crate::values::{object_to_py, to_json_text, to_py, InputProblem};
use crate::{fork, options};

static DECISION: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static VERDICT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static AUTHORIZATION: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The query `authorize` evaluates when none is given.
const DEFAULT_QUERY: &str = "data.authz.allow";

/// The CoreSDK engine in this process: Rego decisions, token verification
/// and PII masking (docs/python.md).
#[pyclass(frozen, module = "coresdk._native", name = "Engine")]
pub struct Engine {
    engine: ManuallyDrop<coresdk_engine::Engine>,
    /// The fork generation this engine was made in (see `fork`).
    generation: u64,
}

impl Drop for Engine {
    fn drop(&mut self) {
        if self.generation != fork::generation() {
            // Made before fork(): its threads and locks belong to the parent;
            // dropping could wait on them forever. The memory is left as is.
            return;
        }
        // SAFETY: dropped exactly once, here; never used after.
        let engine = unsafe { ManuallyDrop::take(&mut self.engine) };
        // Dropping may join the watcher, which may be waiting for the GIL in
        // a reload listener: drop with the GIL released.
        Python::attach(|py| py.detach(move || drop(engine)));
    }
}

/// Why an argument is refused, as a `CoreSDKError` to raise.
fn problem_error(py: Python<'_>, p: &InputProblem) -> PyErr {
    error(py, p.code, &p.message)
}

/// A `str` argument, or `code` naming what it must be.
fn text_arg<'a>(
    py: Python<'_>,
    v: &'a Bound<'_, PyAny>,
    code: &str,
    what: &str,
) -> PyResult<&'a str> {
    v.cast::<PyString>()
        .ok()
        .and_then(|s| s.to_str().ok())
        .ok_or_else(|| error(py, code, format!("{what} must be a string")))
}

impl Engine {
    /// The engine, unless this process is a fork of the one that made it.
    fn live(&self, py: Python<'_>) -> PyResult<&coresdk_engine::Engine> {
        if self.generation != fork::generation() {
            return Err(error(
                py,
                "ERR_ENGINE_CLOSED",
                "this engine was made before fork(): make a new Engine in the child process",
            ));
        }
        Ok(&self.engine)
    }

    /// The input as JSON text within the engine's limits.
    fn input_text(&self, input: Option<&Bound<'_, PyAny>>) -> Result<String, InputProblem> {
        match input {
            None => Ok(String::new()),
            Some(v) => {
                let cfg = self.engine.config();
                to_json_text(v, cfg.max_input_bytes, cfg.max_input_depth)
            }
        }
    }

    /// Evaluates with the GIL released.
    fn eval(
        &self,
        py: Python<'_>,
        query: &Bound<'_, PyAny>,
        input: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Result<Decision, EngineError>> {
        let engine = self.live(py)?;
        let query = text_arg(py, query, "ERR_QUERY_INVALID", "the query")?;
        let text = self.input_text(input).map_err(|p| problem_error(py, &p))?;
        Ok(py.detach(|| engine.evaluate_policy_json(query, &text)))
    }

    fn decision<'py>(py: Python<'py>, d: &Decision) -> PyResult<Bound<'py, PyAny>> {
        let value = match &d.value {
            Some(v) => to_py(py, v)?,
            None => py.None().into_bound(py),
        };
        DECISION.import(py, "coresdk.results", "Decision")?.call1((
            d.value.is_some(),
            value,
            &*d.revision,
        ))
    }

    /// An allow-style verdict (`coresdk.results.IsAllowedResult`).
    fn verdict<'py>(
        py: Python<'py>,
        allowed: bool,
        reason: &str,
        revision: Option<&str>,
        err: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let kw = PyDict::new(py);
        kw.set_item("allowed", allowed)?;
        kw.set_item("reason", reason)?;
        kw.set_item("revision", revision)?;
        kw.set_item("error", err)?;
        VERDICT
            .import(py, "coresdk.results", "IsAllowedResult")?
            .call((), Some(&kw))
    }

    /// A failed `authorize` (`coresdk.results.AuthorizeResult`).
    fn refused<'py>(py: Python<'py>, err: PyErr) -> PyResult<Bound<'py, PyAny>> {
        let value = err.value(py).clone().into_any();
        let code: String = value.getattr("code")?.extract()?;
        let kw = PyDict::new(py);
        kw.set_item("allowed", false)?;
        kw.set_item("reason", code)?;
        kw.set_item("claims", py.None())?;
        kw.set_item("error", value)?;
        AUTHORIZATION
            .import(py, "coresdk.results", "AuthorizeResult")?
            .call((), Some(&kw))
    }
}

fn reload_event<'py>(py: Python<'py>, e: &ReloadEvent) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match e {
        ReloadEvent::Reloaded { revision, previous } => {
            d.set_item("kind", "reloaded")?;
            d.set_item("revision", &**revision)?;
            d.set_item("previous", &**previous)?;
        }
        ReloadEvent::Failed { error, revision } => {
            d.set_item("kind", "failed")?;
            d.set_item("revision", &**revision)?;
            d.set_item("code", error.code())?;
            d.set_item("message", error.to_string())?;
            if let EngineError::PolicyCompile {
                location: Some(l), ..
            } = error
            {
                d.set_item("file", &l.file)?;
                d.set_item("line", l.line)?;
                d.set_item("column", l.column)?;
            }
        }
    }
    Ok(d)
}

/// A decision value as the sidecar writes it: JSON text, empty when undefined.
fn value_json(v: &Option<serde_json::Value>) -> String {
    v.as_ref().map(|v| v.to_string()).unwrap_or_default()
}

fn ms_since_epoch(t: Option<std::time::SystemTime>) -> Option<f64> {
    t.map(coresdk_engine::token::epoch_ms)
}

#[pymethods]
impl Engine {
    /// Loads and compiles a bundle: `policy_dir`, or inline `policies`
    /// (file name to Rego source) with optional `data`; `settings` are the
    /// `[sdk]` keys of `coresdk.toml` (`jwks_url`, `audience`,
    /// `decision_cache_entries`...). `from_env` starts from `coresdk.toml`
    /// and `CORESDK_*`. Raises `CoreSDKError` (`ERR_CONFIG`,
    /// `ERR_POLICY_LOAD`, `ERR_POLICY_COMPILE`...).
    #[new]
    #[pyo3(signature = (*, policy_dir=None, policies=None, data=None, from_env=false, **settings))]
    fn new(
        py: Python<'_>,
        policy_dir: Option<String>,
        policies: Option<HashMap<String, String>>,
        data: Option<Bound<'_, PyAny>>,
        from_env: bool,
        settings: Option<Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let cfg = options::engine_config(
            py,
            from_env,
            policy_dir,
            policies,
            data.as_ref(),
            settings.as_ref(),
        )?;
        let generation = fork::generation();
        let engine = py
            .detach(move || coresdk_engine::Engine::new(cfg))
            .map_err(|e| engine_error(py, &e))?;
        Ok(Engine {
            engine: ManuallyDrop::new(engine),
            generation,
        })
    }

    /// An engine configured by `coresdk.toml` (`CORESDK_CONFIG`, else
    /// `./coresdk.toml`) and the `CORESDK_*` variables; `settings` win.
    #[staticmethod]
    #[pyo3(signature = (**settings))]
    fn from_env(py: Python<'_>, settings: Option<Bound<'_, PyDict>>) -> PyResult<Self> {
        Engine::new(py, None, None, None, true, settings)
    }

    /// The policy revision now serving.
    #[getter]
    fn revision(&self) -> String {
        self.engine.revision().to_string()
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.generation != fork::generation() || self.engine.is_closed()
    }

    /// Evaluates `query` with `input`; returns a `coresdk.results.Decision`.
    /// Raises `CoreSDKError` for a bad query or input, an evaluation error,
    /// a closed engine.
    #[pyo3(signature = (query, input=None))]
    fn evaluate_policy<'py>(
        &self,
        py: Python<'py>,
        query: &Bound<'py, PyAny>,
        input: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match self.eval(py, query, input)? {
            Ok(d) => Engine::decision(py, &d),
            Err(e) => Err(engine_error(py, &e)),
        }
    }

    /// `True` only when `query` is exactly `true`; undefined, any other
    /// value and any error (a bad input, a closed engine) are `False`.
    #[pyo3(signature = (query, input=None))]
    fn is_allowed(
        &self,
        py: Python<'_>,
        query: &Bound<'_, PyAny>,
        input: Option<&Bound<'_, PyAny>>,
    ) -> bool {
        matches!(self.eval(py, query, input), Ok(Ok(d)) if d.is_true())
    }

    /// The allow-style verdict with its reason (`allowed`, `denied`,
    /// `undefined` or the error code): a `coresdk.results.IsAllowedResult`,
    /// never raised.
    #[pyo3(signature = (query, input=None))]
    fn decide<'py>(
        &self,
        py: Python<'py>,
        query: &Bound<'py, PyAny>,
        input: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match self.eval(py, query, input) {
            Ok(Ok(d)) => Engine::verdict(
                py,
                d.is_true(),
                d.verdict_reason().code(),
                Some(&d.revision),
                None,
            ),
            Ok(Err(e)) => {
                let err = new_error(py, e.code(), &e.to_string())?;
                Engine::verdict(py, false, e.code(), None, Some(err))
            }
            Err(raised) => {
                let value = raised.value(py).clone().into_any();
                let code: String = value.getattr("code")?.extract()?;
                Engine::verdict(py, false, &code, None, Some(value))
            }
        }
    }

    /// Verifies `token` and evaluates `query` (default `data.authz.allow`)
    /// with the claims as `input.claims`, in one call: a
    /// `coresdk.results.AuthorizeResult`, never raised for a verdict.
    #[pyo3(signature = (token, query=None, input=None))]
    fn authorize<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
        query: Option<&Bound<'py, PyAny>>,
        input: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let prepared = (|| {
            let engine = self.live(py)?;
            let token = text_arg(py, token, "ERR_TOKEN_MALFORMED", "the token")?;
            let query = match query {
                None => DEFAULT_QUERY,
                Some(q) => text_arg(py, q, "ERR_QUERY_INVALID", "the query")?,
            };
            if let Some(i) = input {
                if !i.is_none() && i.cast::<PyDict>().is_err() {
                    return Err(error(
                        py,
                        "ERR_INPUT_INVALID",
                        "invalid input: authorize's input must be a dict (a JSON object)",
                    ));
                }
            }
            let text = self.input_text(input).map_err(|p| problem_error(py, &p))?;
            Ok((engine, token, query, text))
        })();
        let (engine, token, query, text) = match prepared {
            Ok(p) => p,
            Err(e) => return Engine::refused(py, e),
        };
        let a = py.detach(|| engine.authorize(token, query, &text));
        let kw = PyDict::new(py);
        kw.set_item("allowed", a.allowed)?;
        kw.set_item("reason", a.reason)?;
        match &a.claims {
            Some(c) => kw.set_item("claims", object_to_py(py, &c.claims)?)?,
            None => kw.set_item("claims", py.None())?,
        }
        if let Some(d) = &a.decision {
            kw.set_item("defined", d.value.is_some())?;
            if let Some(v) = &d.value {
                kw.set_item("value", to_py(py, v)?)?;
            }
            kw.set_item("revision", &*d.revision)?;
        }
        if let Some(e) = &a.error {
            kw.set_item("error", new_error(py, e.code(), &e.to_string())?)?;
        }
        AUTHORIZATION
            .import(py, "coresdk.results", "AuthorizeResult")?
            .call((), Some(&kw))
    }

    /// `evaluate_policy` with the input as JSON text (`""`: no input) and
    /// the value as JSON text: `(defined, value_json, revision)`, the
    /// sidecar's `EvaluatePolicy` answer (the client's in-process mode).
    fn evaluate_json(
        &self,
        py: Python<'_>,
        query: &str,
        input_json: &str,
    ) -> PyResult<(bool, String, String)> {
        let engine = self.live(py)?;
        let d = py
            .detach(|| engine.evaluate_policy_json(query, input_json))
            .map_err(|e| engine_error(py, &e))?;
        Ok((
            d.value.is_some(),
            value_json(&d.value),
            d.revision.to_string(),
        ))
    }

    /// `authorize` with JSON text in and out: `(allowed, reason,
    /// claims_json, decision_json, revision)`, the sidecar's `Authorize`
    /// answer; raises what the sidecar answers with an error status.
    fn authorize_json(
        &self,
        py: Python<'_>,
        token: &str,
        query: &str,
        input_json: &str,
    ) -> PyResult<(bool, String, String, String, String)> {
        let engine = self.live(py)?;
        let a = py.detach(|| engine.authorize(token, query, input_json));
        if let Some(e) = &a.error {
            return Err(engine_error(py, e));
        }
        let claims = a
            .claims
            .as_ref()
            .map(|c| c.claims_json.to_string())
            .unwrap_or_default();
        let (decision, revision) = a
            .decision
            .as_ref()
            .map(|d| (value_json(&d.value), d.revision.to_string()))
            .unwrap_or_default();
        Ok((a.allowed, a.reason.to_string(), claims, decision, revision))
    }

    /// `verify_token` returning the claims as JSON text.
    fn verify_token_json(&self, py: Python<'_>, token: &str) -> PyResult<String> {
        let engine = self.live(py)?;
        py.detach(|| engine.verify_token(token))
            .map(|v| v.claims_json.to_string())
            .map_err(|e| engine_error(py, &e))
    }

    /// Verifies a bearer token; returns its claims (a `dict`). Raises
    /// `CoreSDKError` (`ERR_TOKEN_*`, `ERR_JWKS_UNAVAILABLE`,
    /// `ERR_TOKENS_NOT_CONFIGURED`).
    fn verify_token<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let engine = self.live(py)?;
        let token = text_arg(py, token, "ERR_TOKEN_MALFORMED", "the token")?;
        let v = py
            .detach(|| engine.verify_token(token))
            .map_err(|e| engine_error(py, &e))?;
        object_to_py(py, &v.claims)
    }

    /// Masks personal data and secrets in each string with the engine's
    /// masker (`pii_*` settings).
    fn mask_pii<'py>(
        &self,
        py: Python<'py>,
        values: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let engine = self.live(py)?;
        let refuse = || {
            error(
                py,
                "ERR_INPUT_INVALID",
                "mask_pii takes a sequence of strings",
            )
        };
        if values.cast::<PyString>().is_ok() {
            return Err(refuse());
        }
        let mut texts: Vec<String> = Vec::new();
        for item in values.try_iter().map_err(|_| refuse())? {
            let item = item?;
            let s = item.cast::<PyString>().map_err(|_| refuse())?;
            texts.push(s.to_str().map_err(|_| refuse())?.to_string());
        }
        let masked =
            py.detach(|| engine.mask_pii(&texts, &mut coresdk_engine::pii::MaskCounts::new()));
        PyList::new(py, masked)
    }

    /// Re-reads and recompiles the bundle; returns the revision now
    /// serving. On failure the last good revision keeps serving and the
    /// error is raised.
    fn reload(&self, py: Python<'_>) -> PyResult<String> {
        let engine = self.live(py)?;
        py.detach(|| engine.reload())
            .map(|r| r.to_string())
            .map_err(|e| engine_error(py, &e))
    }

    /// Calls `listener(event)` after every reload, from the thread that
    /// reloaded (a `dict`: `kind` `reloaded` or `failed`, `revision`, and
    /// `previous` or `code`, `message`, `file`, `line`, `column`). Returns a
    /// function that removes the listener. An exception in the listener is
    /// reported as unraisable, never propagated into the engine.
    fn on_reload<'py>(
        &self,
        py: Python<'py>,
        listener: Py<PyAny>,
    ) -> PyResult<Bound<'py, PyCFunction>> {
        let engine = self.live(py)?.clone();
        let id = engine.on_reload(move |event| {
            Python::attach(|py| {
                let called = reload_event(py, event).and_then(|e| listener.call1(py, (e,)));
                if let Err(err) = called {
                    err.write_unraisable(py, Some(listener.bind(py)));
                }
            });
        });
        PyCFunction::new_closure(
            py,
            None,
            Some(c"Removes the reload listener."),
            move |_args: &Bound<'_, PyTuple>, _kw: Option<&Bound<'_, PyDict>>| {
                engine.remove_reload_listener(id);
            },
        )
    }

    /// Which evaluator answers rule query `query` (`tree` or
    /// `interpreter`), why when it is the interpreter, the input guards and
    /// whether rules were indexed: a `dict`.
    fn fast_path_plan<'py>(
        &self,
        py: Python<'py>,
        query: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let engine = self.live(py)?;
        let query = text_arg(py, query, "ERR_QUERY_INVALID", "the query")?;
        let p = py.detach(|| engine.fast_path_plan(query));
        let d = PyDict::new(py);
        d.set_item("evaluator", p.evaluator)?;
        d.set_item("reason", p.reason)?;
        d.set_item("guards", p.guards)?;
        d.set_item("indexed", p.indexed)?;
        Ok(d)
    }

    /// How the serving revision answered its evaluations: `{"vm": n,
    /// "interpreter": n}`.
    fn fast_path_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.live(py)?.fast_path_stats();
        let d = PyDict::new(py);
        d.set_item("vm", s.vm)?;
        d.set_item("interpreter", s.interpreter)?;
        Ok(d)
    }

    /// Decision cache counters of the serving revision: `{"enabled",
    /// "hits", "misses"}`.
    fn decision_cache_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.live(py)?.decision_cache_stats();
        let d = PyDict::new(py);
        d.set_item("enabled", s.enabled)?;
        d.set_item("hits", s.hits)?;
        d.set_item("misses", s.misses)?;
        Ok(d)
    }

    /// The key source's state (no key material) when tokens are
    /// configured, else `None`.
    fn key_status<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(s) = self.live(py)?.key_status() else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("source", s.source)?;
        d.set_item("keys", s.keys)?;
        d.set_item("fetched_at_ms", ms_since_epoch(s.fetched_at))?;
        d.set_item("from_offline_cache", s.from_offline_cache)?;
        d.set_item("last_error", s.last_error)?;
        d.set_item("offline_cache", s.offline_cache)?;
        d.set_item("offline_cache_rejections", s.offline_cache_rejections)?;
        d.set_item("refreshes_ok", s.refreshes_ok)?;
        d.set_item("refreshes_failed", s.refreshes_failed)?;
        Ok(Some(d))
    }

    /// Stops the watcher and refuses further evaluations
    /// (`ERR_ENGINE_CLOSED`). Idempotent.
    fn close(&self, py: Python<'_>) {
        if let Ok(engine) = self.live(py) {
            py.detach(|| engine.close());
        }
    }

    /// Context-manager use: the engine itself.
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Closes the engine.
    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) {
        self.close(py);
    }
}
