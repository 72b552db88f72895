package coresdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// FailMode says what an unreachable sidecar means for a request.
type FailMode string

const (
	// FailOpen allows the request with nil claims (a warning at most every
	// 10 s, and a counter in Stats). The default, as in Node and Python.
	FailOpen FailMode = "open"
	// FailClosed denies the request: the middleware answers 503 with
	// ERR_SIDECAR_UNAVAILABLE or ERR_SIDECAR_TIMEOUT.
	FailClosed FailMode = "closed"
)

// Defaults, the same as the Node client's and the Python SDK's.
const (
	// DefaultSidecarAddr is where the sidecar listens by default.
	DefaultSidecarAddr = "[::1]:50051"
	// DefaultTenantID is the tenant calls name by default.
	DefaultTenantID = "acme-corp"
	// DefaultTimeout is the deadline of one call, retries included.
	DefaultTimeout = time.Second
	// DefaultRetries is how many times an UNAVAILABLE call is retried.
	DefaultRetries = 2
	// DefaultBackoff is the first retry's backoff ceiling (doubled per retry, full jitter).
	DefaultBackoff = 25 * time.Millisecond
	// DefaultBreakerFailureThreshold is how many transport failures in a row open the breaker.
	DefaultBreakerFailureThreshold = 5
	// DefaultBreakerReset is how long the breaker stays open before one probe call.
	DefaultBreakerReset = 5 * time.Second
)

// NoRetries, as Config.Retries, disables retries (0 means DefaultRetries).
const NoRetries = -1

// Config says how a Client reaches the sidecar. The zero value of every
// field means its default, so Config{} is a client for a local sidecar in
// development. ConfigFromEnv reads the same keys from coresdk.toml and
// CORESDK_* variables.
type Config struct {
	// SidecarAddr is host:port, [v6]:port or unix:/path (sidecar_addr,
	// CORESDK_SIDECAR_ADDR). Default "[::1]:50051". Plaintext (no TLS files)
	// is allowed to a loopback address or a unix socket only.
	SidecarAddr string
	// TenantID is the tenant every call names (tenant_id, CORESDK_TENANT_ID).
	// Default "acme-corp". WithTenant overrides it per call.
	TenantID string
	// FailMode is what an unreachable sidecar means (fail_mode,
	// CORESDK_FAIL_MODE). Default FailOpen.
	FailMode FailMode
	// Timeout is the deadline of one call, retries included (timeout_ms,
	// CORESDK_TIMEOUT_MS). Default 1 s. A context deadline that comes sooner wins.
	Timeout time.Duration
	// TLSCAFile is the PEM CA that signed the sidecar's certificate (tls_ca_file, CORESDK_TLS_CA_FILE).
	TLSCAFile string
	// TLSCertFile is the client certificate chain, PEM (tls_cert_file, CORESDK_TLS_CERT_FILE).
	TLSCertFile string
	// TLSKeyFile is the client private key, PEM (tls_key_file, CORESDK_TLS_KEY_FILE).
	TLSKeyFile string
	// TLSServerName is the name to verify in the sidecar's certificate
	// (tls_server_name, CORESDK_TLS_SERVER_NAME). Default: the address's host.
	TLSServerName string
	// Retries after UNAVAILABLE without the sidecar's ErrorInfo, with jittered
	// backoff, inside the deadline. 0 means DefaultRetries; NoRetries disables them.
	Retries int
	// Backoff is the first retry's backoff ceiling. 0 means DefaultBackoff.
	Backoff time.Duration
	// BreakerFailureThreshold is how many transport failures in a row open the
	// circuit breaker. 0 means DefaultBreakerFailureThreshold.
	BreakerFailureThreshold int
	// BreakerReset is how long the breaker stays open before one probe. 0 means DefaultBreakerReset.
	BreakerReset time.Duration
	// Warn receives the fail-open warning (at most one per 10 s). Default: slog.Warn.
	Warn func(message string)
}

// withDefaults fills the zero fields and validates the result; errors are ERR_CONFIG naming the key.
func (c Config) withDefaults() (Config, error) {
	if c.SidecarAddr == "" {
		c.SidecarAddr = DefaultSidecarAddr
	}
	if strings.TrimSpace(c.SidecarAddr) == "" {
		return c, newError(CodeConfig, "sidecar_addr: must be a non-empty string")
	}
	if c.TenantID == "" {
		c.TenantID = DefaultTenantID
	}
	if !validTenantID(c.TenantID) {
		return c, newError(CodeConfig, "tenant_id: must be 1-128 characters of letters, digits, '-', '_' or '.'")
	}
	if c.FailMode == "" {
		c.FailMode = FailOpen
	}
	if c.FailMode != FailOpen && c.FailMode != FailClosed {
		return c, newError(CodeConfig, "fail_mode: must be \"open\" or \"closed\", got %q", string(c.FailMode))
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Timeout < time.Millisecond || c.Timeout > 600*time.Second {
		return c, newError(CodeConfig, "timeout_ms: must be between 1 ms and 600000 ms, got %s", c.Timeout)
	}
	switch {
	case c.Retries == 0:
		c.Retries = DefaultRetries
	case c.Retries == NoRetries:
		c.Retries = 0
	case c.Retries < 0 || c.Retries > 10:
		return c, newError(CodeConfig, "retries: must be between 0 and 10 (NoRetries for none), got %d", c.Retries)
	}
	if c.Backoff == 0 {
		c.Backoff = DefaultBackoff
	}
	if c.Backoff < 0 || c.Backoff > time.Minute {
		return c, newError(CodeConfig, "backoff_ms: must be between 0 and 60000 ms, got %s", c.Backoff)
	}
	if c.BreakerFailureThreshold == 0 {
		c.BreakerFailureThreshold = DefaultBreakerFailureThreshold
	}
	if c.BreakerFailureThreshold < 1 || c.BreakerFailureThreshold > 1_000_000 {
		return c, newError(CodeConfig, "breaker_failure_threshold: must be between 1 and 1000000, got %d", c.BreakerFailureThreshold)
	}
	if c.BreakerReset == 0 {
		c.BreakerReset = DefaultBreakerReset
	}
	if c.BreakerReset < 0 || c.BreakerReset > time.Hour {
		return c, newError(CodeConfig, "breaker_reset_ms: must be between 0 and 3600000 ms, got %s", c.BreakerReset)
	}
	return c, nil
}

func (c Config) usesTLS() bool {
	return c.TLSCAFile != "" || c.TLSCertFile != "" || c.TLSKeyFile != ""
}

func validTenantID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.') {
			return false
		}
	}
	return true
}

// sdkKeys are the allow-listed keys of [sdk] (the engine's SDK_KEYS); each maps to CORESDK_<KEY>.
var sdkKeys = []string{
	"policy_dir", "eval_timeout_ms", "pool_size", "max_input_bytes", "max_input_depth", "watch_policies",
	"rego_v0", "decision_cache_entries", "sidecar_addr", "tenant_id", "fail_mode", "jwks_url", "jwks_file",
	"oidc_issuer", "issuer", "audience", "algorithms", "clock_tolerance_secs", "required_claims", "token_typ",
	"max_token_bytes", "token_cache_entries", "jwks_ca_file", "jwks_timeout_ms", "jwks_refresh_min_secs",
	"jwks_refresh_max_secs", "jwks_unknown_kid_cooldown_secs", "jwks_stale_max_secs", "jwks_allow_insecure_http",
	"offline_cache_dir", "offline_cache_key", "mode", "timeout_ms", "tls_ca_file", "tls_cert_file", "tls_key_file",
	"tls_server_name", "pii_style", "pii_hash_key", "pii_entities", "pii_dictionary", "pii_patterns",
	"pii_sensitive_names", "decision_log",
}

var sidecarKeys = []string{
	"tls_cert_file", "tls_key_file", "tls_client_ca_file", "insecure_dev", "watch_certs", "max_concurrent_calls",
	"max_message_bytes", "max_batch", "drain_timeout_ms", "keepalive_interval_secs", "keepalive_timeout_secs",
	"worker_threads", "health_addr",
}

var tenantKeys = []string{
	"policy_dir", "rego_v0", "jwks_url", "jwks_file", "oidc_issuer", "issuer", "audience", "algorithms",
	"clock_tolerance_secs", "required_claims", "token_typ", "max_token_bytes", "token_cache_entries", "jwks_ca_file",
	"jwks_timeout_ms", "jwks_refresh_min_secs", "jwks_refresh_max_secs", "jwks_unknown_kid_cooldown_secs",
	"jwks_stale_max_secs", "jwks_allow_insecure_http", "offline_cache_dir", "offline_cache_key",
}

func configErr(key, format string, args ...any) *Error {
	return newError(CodeConfig, "invalid configuration: %s: %s", key, fmt.Sprintf(format, args...))
}

// rawValue is one configured value: from the file (TOML-typed) or from a variable (text).
type rawValue struct {
	name    string
	value   any
	fromEnv bool
}

func tomlType(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case int64:
		return "integer"
	case float64:
		return "float"
	case string:
		return "string"
	case []any, []map[string]any:
		return "array"
	case map[string]any:
		return "table"
	}
	return "datetime"
}

// quoted quotes s as Rust's {:?} (and JSON) do for plain text.
func quoted(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

func (r rawValue) str() (string, error) {
	if s, ok := r.value.(string); ok {
		return s, nil
	}
	return "", configErr(r.name, "expected a string, got %s", tomlType(r.value))
}

func (r rawValue) integer(lo, hi int64) (int64, error) {
	var n int64
	if r.fromEnv {
		text := strings.TrimSpace(r.value.(string))
		v, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return 0, configErr(r.name, "expected an integer, got %s", quoted(r.value.(string)))
		}
		n = v
	} else if v, ok := r.value.(int64); ok {
		n = v
	} else {
		return 0, configErr(r.name, "expected an integer, got %s", tomlType(r.value))
	}
	if n < lo || n > hi {
		return 0, configErr(r.name, "must be between %d and %d, got %d", lo, hi, n)
	}
	return n, nil
}

// ConfigFromEnv reads coresdk.toml's [sdk] table and CORESDK_* variables,
// exactly as the Node client's CoreSDKClient.fromEnv() and the Python SDK's
// SDKConfig.from_env() do: the file is CORESDK_CONFIG, else ./coresdk.toml
// when it exists; variables win over the file; unknown sections and keys are
// refused; relative TLS paths in the file resolve against its directory.
// Errors are ERR_CONFIG naming the key at fault, in the engine's words:
//
//	invalid configuration: CORESDK_FAIL_MODE: must be "open" or "closed", got "x"
//
// Only the client's keys are interpreted (sidecar_addr, tenant_id, fail_mode,
// mode, timeout_ms, tls_*); the others configure the sidecar, which reads the
// same file. Fields the file cannot set (Retries, Warn...) keep their zero
// value; set them on the returned Config.
func ConfigFromEnv() (Config, error) {
	return configFromEnviron(os.Environ())
}

func configFromEnviron(environ []string) (Config, error) {
	vars := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, "CORESDK_") {
			vars[k] = v
		}
	}
	file := ""
	if p, ok := vars["CORESDK_CONFIG"]; ok {
		file = p
	} else if st, err := os.Stat("coresdk.toml"); err == nil && st.Mode().IsRegular() {
		file = "coresdk.toml"
	}
	raw := map[string]rawValue{}
	base := ""
	if file != "" {
		text, err := os.ReadFile(file)
		if err != nil {
			msg := err.Error()
			var pe *fs.PathError
			if errors.As(err, &pe) {
				msg = pe.Err.Error()
			}
			return Config{}, configErr("CORESDK_CONFIG", "%s: %s", file, msg)
		}
		base = filepath.Dir(file)
		var doc map[string]any
		if _, err := toml.Decode(string(text), &doc); err != nil {
			return Config{}, configErr("coresdk.toml", "%s", err.Error())
		}
		sections := make([]string, 0, len(doc))
		for s := range doc {
			sections = append(sections, s)
		}
		sort.Strings(sections)
		for _, section := range sections {
			value := doc[section]
			switch section {
			case "sdk":
				t, err := table(value, "sdk", sdkKeys)
				if err != nil {
					return Config{}, err
				}
				for k, v := range t {
					raw[k] = v
				}
			case "sidecar":
				if _, err := table(value, "sidecar", sidecarKeys); err != nil {
					return Config{}, err
				}
			case "tenants":
				tenants, ok := value.(map[string]any)
				if !ok {
					return Config{}, configErr("tenants", "must be a table of tables ([tenants.<id>])")
				}
				for tid, t := range tenants {
					if !validTenantID(tid) {
						return Config{}, configErr("tenants."+tid, "tenant ids are 1-128 characters of letters, digits, '-', '_' or '.'")
					}
					if _, err := table(t, "tenants."+tid, tenantKeys); err != nil {
						return Config{}, err
					}
				}
			default:
				return Config{}, configErr(section, "unknown section (known: [sdk], [sidecar], [tenants.<id>])")
			}
		}
	}
	for _, key := range sdkKeys {
		name := "CORESDK_" + strings.ToUpper(key)
		if v, ok := vars[name]; ok {
			raw[key] = rawValue{name: name, value: v, fromEnv: true}
		}
	}
	path := func(r rawValue) (string, error) {
		s, err := r.str()
		if err != nil {
			return "", err
		}
		if base != "" && !r.fromEnv && !filepath.IsAbs(s) {
			return filepath.Join(base, s), nil
		}
		return s, nil
	}
	var cfg Config
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		r := raw[key]
		var err error
		switch key {
		case "sidecar_addr":
			var s string
			if s, err = r.str(); err == nil {
				if strings.TrimSpace(s) == "" {
					err = configErr(r.name, "must not be empty")
				}
				cfg.SidecarAddr = s
			}
		case "tenant_id":
			var s string
			if s, err = r.str(); err == nil {
				if !validTenantID(s) {
					err = configErr(r.name, "must be 1-128 characters of letters, digits, '-', '_' or '.'")
				}
				cfg.TenantID = s
			}
		case "fail_mode":
			var s string
			if s, err = r.str(); err == nil {
				if s != "open" && s != "closed" {
					err = configErr(r.name, "must be \"open\" or \"closed\", got %s", quoted(s))
				}
				cfg.FailMode = FailMode(s)
			}
		case "mode":
			var s string
			if s, err = r.str(); err == nil {
				if s == "in-process" {
					err = configErr(r.name, "the Go client reaches the engine through the sidecar only; \"in-process\" is for Node and Rust")
				} else if s != "sidecar" {
					err = configErr(r.name, "must be \"sidecar\" or \"in-process\", got %s", quoted(s))
				}
			}
		case "timeout_ms":
			var n int64
			if n, err = r.integer(1, 600_000); err == nil {
				cfg.Timeout = time.Duration(n) * time.Millisecond
			}
		case "tls_ca_file":
			cfg.TLSCAFile, err = path(r)
		case "tls_cert_file":
			cfg.TLSCertFile, err = path(r)
		case "tls_key_file":
			cfg.TLSKeyFile, err = path(r)
		case "tls_server_name":
			cfg.TLSServerName, err = r.str()
		}
		if err != nil {
			return Config{}, err
		}
	}
	return cfg, nil
}

func table(value any, name string, keys []string) (map[string]rawValue, error) {
	t, ok := value.(map[string]any)
	if !ok {
		return nil, configErr(name, "must be a table")
	}
	allowed := make(map[string]bool, len(keys))
	for _, k := range keys {
		allowed[k] = true
	}
	names := make([]string, 0, len(t))
	for k := range t {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make(map[string]rawValue, len(t))
	for _, k := range names {
		if !allowed[k] {
			return nil, configErr(name+"."+k, "unknown key (known keys: %s)", strings.Join(keys, ", "))
		}
		out[k] = rawValue{name: name + "." + k, value: t[k]}
	}
	return out, nil
}
