//! What the command line says, parsed with clap: the serving flags (each
//! sets one `CORESDK_*` variable of the one configuration loader), and the
//! `test` and `check` policy commands.
//!
//! Precedence: flag, then environment variable, then `coresdk.toml`, then
//! the built-in default.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Text after the options in `--help`.
const AFTER_HELP: &str = "\
Serves coresdk.v1.CoreSDK and grpc.health.v1.Health on [::1]:50051 by default, and the OpenID
AuthZEN 1.0 API over HTTPS with --authzen-addr (docs/authzen.md). Configuration: flags, then
CORESDK_* variables, then coresdk.toml ([sdk], [sidecar], [tenants.<id>]); see
docs/configuration.md and docs/operations.md.

Telemetry: with OTEL_EXPORTER_OTLP_ENDPOINT set, every call's span (in the caller's trace, from
its traceparent), the decision metrics and the decision log are recorded, masked, and exported
over OTLP. Also read: OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf or grpc), OTEL_SERVICE_NAME
(default coresdk-sidecar), OTEL_TRACES_SAMPLER and _ARG, OTEL_METRIC_EXPORT_INTERVAL,
OTEL_SDK_DISABLED, CORESDK_DECISION_LOG (off, decisions, input). See docs/telemetry.md.

Signals: SIGTERM and SIGINT drain (health NOT_SERVING, in-flight calls answered) and exit 0; a
second one (a second or more later) exits at once. SIGHUP reloads policies and certificates.
Exit codes: 0 clean stop, 1 drain deadline passed with calls in flight, 2 invalid configuration
or failed start.";

/// The whole command line.
#[derive(Debug, Parser)]
#[command(
    name = "coresdk-sidecar",
    version,
    about = "The CoreSDK data plane: coresdk-engine over gRPC with mutual TLS 1.3, and the AuthZEN API",
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true,
    args_override_self = true,
    max_term_width = 100
)]
pub struct Cli {
    /// A policy command instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Serving options.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The policy author's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every test_* rule under the paths, as opa test does (docs/policy-testing.md)
    Test(TestArgs),
    /// Compile a bundle as the sidecar would load it; errors with file:line:col
    Check(CheckArgs),
    /// Ask a running sidecar's plaintext health listener whether it is SERVING (exit 0) or not (exit 1)
    Health(HealthArgs),
    /// Print a development token signed with --dev's key set (for tests and samples; never production)
    DevToken(DevTokenArgs),
}

/// `coresdk-sidecar dev-token`.
#[derive(Debug, Args)]
pub struct DevTokenArgs {
    /// The development key set's directory (as for --dev; default $XDG_STATE_HOME/coresdk/dev or ~/.local/state/coresdk/dev)
    #[arg(long, value_name = "DIR")]
    pub dev_dir: Option<PathBuf>,
    /// The subject (`sub`)
    #[arg(long, default_value = "dev-user", value_parser = not_empty)]
    pub sub: String,
    /// The roles claim, comma-separated ("" for none)
    #[arg(long, default_value = "admin")]
    pub roles: String,
    /// Seconds until it expires
    #[arg(long, value_name = "SECS", default_value_t = 12 * 3600, value_parser = clap::value_parser!(u64).range(1..=31_536_000))]
    pub ttl: u64,
    /// Another claim, NAME=VALUE (VALUE as JSON when it parses, else a string; may override iss, aud, exp, iat); repeatable
    #[arg(long = "claim", value_name = "NAME=VALUE", value_parser = claim)]
    pub claims: Vec<(String, serde_json::Value)>,
}

fn claim(s: &str) -> Result<(String, serde_json::Value), String> {
    let (name, value) = s
        .split_once('=')
        .filter(|(n, _)| !n.trim().is_empty())
        .ok_or_else(|| format!("expected NAME=VALUE, got {s:?}"))?;
    let value = serde_json::from_str(value)
        .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
    Ok((name.trim().to_string(), value))
}

/// `coresdk-sidecar health`.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The health listener (the sidecar's health_addr)
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50052")]
    pub addr: String,
    /// The service to ask about ("" is the whole server; coresdk.v1.CoreSDK the API)
    #[arg(long, default_value = "")]
    pub service: String,
    /// How long to wait for an answer, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub timeout_ms: u64,
}

/// Log levels (pino's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum LogLevel {
    /// Everything.
    Trace,
    /// Connection-level detail.
    Debug,
    /// Lifecycle events (the default).
    Info,
    /// Problems that do not stop serving.
    Warn,
    /// Failures.
    Error,
    /// Only what ends the process.
    Fatal,
    /// Nothing.
    Silent,
}

impl LogLevel {
    /// From `CORESDK_LOG_LEVEL`'s text.
    pub fn parse(text: &str) -> Option<LogLevel> {
        LogLevel::from_str(text.trim(), true).ok()
    }
}

fn not_empty(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(s.to_string())
    }
}

/// Declares the flags that set a `CORESDK_*` variable, once: the struct
/// fields (with their help, which names the variable) and the mapping.
macro_rules! value_flags {
    ($( $field:ident => $var:literal, $doc:literal; )*) => {
        /// The options of the serving command.
        #[derive(Debug, Default, Args)]
        pub struct ServeArgs {
            /// coresdk.toml to read [CORESDK_CONFIG; default ./coresdk.toml when present]
            #[arg(short = 'c', long, value_name = "FILE")]
            pub config: Option<PathBuf>,
            $(
                #[doc = $doc]
                #[arg(long, value_name = "VALUE", value_parser = not_empty, help = concat!($doc, " [", $var, "]"), long_help = concat!($doc, " [", $var, "]"))]
                pub $field: Option<String>,
            )*
            /// Plaintext, no client certificates; loopback or unix socket only [CORESDK_SIDECAR_INSECURE_DEV]
            #[arg(long)]
            pub insecure_dev: bool,
            /// Development defaults: the example bundle, a development key set kept in the per-user
            /// state directory, a printed token, insecure-dev on loopback, any query, and AuthZEN over
            /// plaintext HTTP on [::1]:50080 (a free port when --addr is given; --authzen-addr to choose)
            #[arg(long)]
            pub dev: bool,
            /// Where --dev keeps its key set and bundle [default: $XDG_STATE_HOME/coresdk/dev, else
            /// ~/.local/state/coresdk/dev]
            #[arg(long, value_name = "DIR", requires = "dev")]
            pub dev_dir: Option<PathBuf>,
            /// Log level [CORESDK_LOG_LEVEL; default info]
            #[arg(long, value_name = "LEVEL", ignore_case = true)]
            pub log_level: Option<LogLevel>,
            /// Validate the configuration (compiling every bundle) and exit
            #[arg(long)]
            pub check: bool,
        }

        impl ServeArgs {
            /// The `CORESDK_*` variables the flags set.
            pub fn vars(&self) -> Vec<(&'static str, String)> {
                let mut out = Vec::new();
                $(
                    if let Some(v) = &self.$field {
                        out.push(($var, v.clone()));
                    }
                )*
                if self.insecure_dev {
                    out.push(("CORESDK_SIDECAR_INSECURE_DEV", "true".to_string()));
                }
                out
            }
        }
    };
}

value_flags! {
    addr => "CORESDK_SIDECAR_ADDR",
        "Listen address: [::1]:50051 (default), 127.0.0.1:50051 or unix:/path";
    tenant => "CORESDK_TENANT_ID",
        "Default tenant for requests that name none (acme-corp)";
    policy_dir => "CORESDK_POLICY_DIR",
        "The default tenant's policy bundle directory";
    jwks_url => "CORESDK_JWKS_URL",
        "The default tenant's JWKS URL";
    jwks_file => "CORESDK_JWKS_FILE",
        "The default tenant's JWKS file";
    oidc_issuer => "CORESDK_OIDC_ISSUER",
        "The default tenant's OIDC issuer (discovery)";
    audience => "CORESDK_AUDIENCE",
        "Accepted token audiences, comma-separated";
    tls_cert => "CORESDK_SIDECAR_TLS_CERT_FILE",
        "Server certificate chain (PEM)";
    tls_key => "CORESDK_SIDECAR_TLS_KEY_FILE",
        "Server private key (PEM)";
    tls_client_ca => "CORESDK_SIDECAR_TLS_CLIENT_CA_FILE",
        "CA that client certificates must chain to (PEM)";
    health_addr => "CORESDK_SIDECAR_HEALTH_ADDR",
        "Plaintext health-only listener for probes, e.g. 0.0.0.0:50052";
    drain_timeout_ms => "CORESDK_SIDECAR_DRAIN_TIMEOUT_MS",
        "How long SIGTERM waits for calls in flight (10000)";
    max_concurrent_calls => "CORESDK_SIDECAR_MAX_CONCURRENT_CALLS",
        "Calls served at once before RESOURCE_EXHAUSTED (1024)";
    allowed_queries => "CORESDK_SIDECAR_ALLOWED_QUERIES",
        "Queries clients may run: rule paths, prefixes (data.authz.*) or * (default: the bundle's rules)";
    bundle_url => "CORESDK_BUNDLE_URL",
        "Pull the default tenant's bundle from this URL (OPA bundle protocol) instead of --policy-dir";
    bundle_verification_key => "CORESDK_BUNDLE_VERIFICATION_KEY_FILE",
        "PEM public key bundle signatures (.signatures.json) must verify with";
    bundle_key_id => "CORESDK_BUNDLE_KEY_ID",
        "Key id bundle signatures must name";
    bundle_ca_file => "CORESDK_BUNDLE_CA_FILE",
        "CA certificates (PEM) for the bundle server";
    bundle_poll_min_secs => "CORESDK_BUNDLE_POLL_MIN_SECS",
        "Shortest wait between bundle polls (60)";
    bundle_poll_max_secs => "CORESDK_BUNDLE_POLL_MAX_SECS",
        "Longest wait between bundle polls (120)";
    offline_cache_dir => "CORESDK_OFFLINE_CACHE_DIR",
        "HMAC-verified cache of the last good key set and bundle (needs CORESDK_OFFLINE_CACHE_KEY)";
    authzen_addr => "CORESDK_SIDECAR_AUTHZEN_ADDR",
        "Serve the OpenID AuthZEN 1.0 API over HTTPS here, e.g. [::]:8443 (off by default)";
    authzen_tls_cert => "CORESDK_SIDECAR_AUTHZEN_TLS_CERT_FILE",
        "AuthZEN server certificate (default: --tls-cert's)";
    authzen_tls_key => "CORESDK_SIDECAR_AUTHZEN_TLS_KEY_FILE",
        "AuthZEN server key (default: --tls-key's)";
    authzen_tls_client_ca => "CORESDK_SIDECAR_AUTHZEN_TLS_CLIENT_CA_FILE",
        "CA of AuthZEN client certificates (default: --tls-client-ca's)";
    authzen_client_auth => "CORESDK_SIDECAR_AUTHZEN_CLIENT_AUTH",
        "How AuthZEN clients authenticate: mtls (default) or api_key";
    authzen_api_key_sha256 => "CORESDK_SIDECAR_AUTHZEN_API_KEY_SHA256",
        "Accepted API keys as SHA-256 hex digests ([tenant:]digest, comma-separated)";
    authzen_decision_query => "CORESDK_SIDECAR_AUTHZEN_DECISION_QUERY",
        "The Rego query whose true permits (data.authzen.allow)";
    authzen_context_query => "CORESDK_SIDECAR_AUTHZEN_CONTEXT_QUERY",
        "A Rego query whose object becomes the response context";
    authzen_search_subject_query => "CORESDK_SIDECAR_AUTHZEN_SEARCH_SUBJECT_QUERY",
        "The rule answering subject searches (data.authzen.search_subjects)";
    authzen_search_resource_query => "CORESDK_SIDECAR_AUTHZEN_SEARCH_RESOURCE_QUERY",
        "The rule answering resource searches (data.authzen.search_resources)";
    authzen_search_action_query => "CORESDK_SIDECAR_AUTHZEN_SEARCH_ACTION_QUERY",
        "The rule answering action searches (data.authzen.search_actions)";
}

/// Output formats of the policy commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable, as opa prints it.
    Pretty,
    /// opa's JSON.
    Json,
}

/// `coresdk-sidecar test <path>...`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Policy directories or files
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// List every test (and print() output), not only failures
    #[arg(short, long)]
    pub verbose: bool,
    /// Only tests whose full name (data.pkg.test_x) matches this regex
    #[arg(short, long, value_name = "REGEX")]
    pub run: Option<String>,
    /// json: opa test --format json's array (with --coverage, opa test --coverage's report)
    #[arg(short, long, value_enum, default_value = "pretty")]
    pub format: Format,
    /// Line coverage from regorus, per file and in total
    #[arg(short, long)]
    pub coverage: bool,
    /// Exit 1 when coverage is below this percentage (implies --coverage)
    #[arg(long, value_name = "PERCENT", value_parser = percent)]
    pub threshold: Option<f64>,
    /// Read one directory as a bundle (its .manifest applies)
    #[arg(short, long)]
    pub bundle: bool,
    /// Time limit per test: 500ms, 5s (default), 1m
    #[arg(short, long, value_name = "DURATION", value_parser = duration_ms)]
    pub timeout: Option<u64>,
    /// Builtin errors are test errors, as when serving (default: undefined, as in opa test)
    #[arg(long)]
    pub strict_builtin_errors: bool,
    /// Exit 1 when no test ran
    #[arg(long)]
    pub fail_on_empty: bool,
    /// Parse as Rego v0
    #[arg(long)]
    pub v0_compatible: bool,
}

/// `coresdk-sidecar check <dir>`, or `check --config FILE`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A bundle directory (or, with --ignore-manifest, files and directories)
    #[arg(required_unless_present = "config", value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Instead of a bundle, validate a whole coresdk.toml as the sidecar serves it (every table and key, every tenant's bundle, the certificate files; what --check does)
    #[arg(short = 'c', long, value_name = "FILE", conflicts_with_all = ["paths", "ignore_manifest", "v0_compatible"])]
    pub config: Option<PathBuf>,
    /// Read plain files (opa check without -b); default: one directory is read as a served bundle
    #[arg(long)]
    pub ignore_manifest: bool,
    /// Also list each rule query's evaluator: the tree evaluator (with its input guards) or the interpreter, and why
    #[arg(long, conflicts_with = "config")]
    pub fast_path: bool,
    /// Output format
    #[arg(short, long, value_enum, default_value = "pretty")]
    pub format: Format,
    /// Parse as Rego v0
    #[arg(long)]
    pub v0_compatible: bool,
}

fn percent(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err("must be a percentage between 0 and 100".into()),
    }
}

/// `500ms`, `5s`, `1m` or a number of milliseconds, between 1 ms and 1 h.
fn duration_ms(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => t.split_at(i),
        None => (t, "ms"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("expected a duration such as 500ms or 5s, got {s:?}"))?;
    let ms = match unit {
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => {
            return Err(format!(
                "expected a duration such as 500ms or 5s, got {s:?}"
            ))
        }
    };
    if !ms.is_finite() || !(1.0..=3_600_000.0).contains(&ms) {
        return Err("must be between 1ms and 1h".into());
    }
    Ok(ms.round() as u64)
}

/// Parses `argv` (with the program name first). `Err` carries the exit
/// code and what to print: help and version on stdout with 0, a usage error
/// as one line naming the flag on stderr with 2.
pub fn parse(argv: Vec<OsString>) -> Result<Cli, (u8, String, bool)> {
    match Cli::try_parse_from(argv) {
        Ok(c) => Ok(c),
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    Err((0, e.render().to_string(), true))
                }
                _ => {
                    // clap's first paragraph ("error: ..." and, for a missing
                    // argument, the argument on the next line), as one line.
                    let text = e.render().to_string();
                    let mut paragraphs = text.split("\n\n");
                    let mut first = paragraphs.next().unwrap_or("invalid arguments").to_string();
                    // "tip: a similar argument exists: '--tls-cert'".
                    if let Some(tip) = paragraphs.find(|p| p.trim_start().starts_with("tip:")) {
                        first.push_str("; ");
                        first.push_str(tip.trim_start().trim_start_matches("tip: "));
                    }
                    let line = first
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                        .trim_start_matches("error: ")
                        .to_string();
                    Err((
                        2,
                        format!("coresdk-sidecar: [ERR_CONFIG] {line} (see --help)\n"),
                        false,
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<Cli, (u8, String, bool)> {
        parse(
            std::iter::once("coresdk-sidecar")
                .chain(a.iter().copied())
                .map(OsString::from)
                .collect(),
        )
    }

    #[test]
    fn flags_set_their_variables() {
        let c = args(&[
            "--addr",
            "127.0.0.1:0",
            "--insecure-dev",
            "--authzen-search-resource-query",
            "data.x.y",
        ])
        .unwrap();
        let vars = c.serve.vars();
        assert!(vars.contains(&("CORESDK_SIDECAR_ADDR", "127.0.0.1:0".into())));
        assert!(vars.contains(&("CORESDK_SIDECAR_INSECURE_DEV", "true".into())));
        assert!(vars.contains(&(
            "CORESDK_SIDECAR_AUTHZEN_SEARCH_RESOURCE_QUERY",
            "data.x.y".into()
        )));
    }

    #[test]
    fn usage_errors_are_one_line_naming_the_flag() {
        let (code, text, stdout) = args(&["--tls-crt", "x"]).unwrap_err();
        assert_eq!((code, stdout), (2, false));
        assert!(text.contains("--tls-crt"), "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");
        let (code, text, _) = args(&["--addr", " "]).unwrap_err();
        assert_eq!(code, 2);
        assert!(text.contains("--addr"), "{text}");
        let (code, text, _) = args(&["--dev-dir", "/tmp/x"]).unwrap_err();
        assert_eq!(code, 2, "{text}");
        let (code, text, _) = args(&["test", "p", "--timeout", "2h"]).unwrap_err();
        assert_eq!(code, 2);
        assert!(text.contains("--timeout"), "{text}");
    }

    #[test]
    fn help_names_every_variable_and_subcommands_parse() {
        let (code, text, stdout) = args(&["--help"]).unwrap_err();
        assert_eq!((code, stdout), (0, true));
        for var in [
            "CORESDK_SIDECAR_TLS_CERT_FILE",
            "CORESDK_SIDECAR_AUTHZEN_SEARCH_ACTION_QUERY",
            "CORESDK_BUNDLE_URL",
        ] {
            assert!(text.contains(var), "{var}");
        }
        let c = args(&["test", "a", "b", "-v", "--timeout", "500ms"]).unwrap();
        match c.command {
            Some(Command::Test(t)) => {
                assert_eq!(t.paths.len(), 2);
                assert_eq!(t.timeout, Some(500));
                assert!(t.verbose);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            args(&["check", "dir", "--format", "json"]).unwrap().command,
            Some(Command::Check(CheckArgs {
                format: Format::Json,
                fast_path: false,
                ..
            }))
        ));
        assert!(matches!(
            args(&["check", "dir", "--fast-path"]).unwrap().command,
            Some(Command::Check(CheckArgs {
                fast_path: true,
                ..
            }))
        ));
        // --fast-path lists a bundle's queries; --config checks a whole file.
        assert!(args(&["check", "--config", "c.toml", "--fast-path"]).is_err());
    }
}
