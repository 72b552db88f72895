package coresdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

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
	if err := checkAddress(c.SidecarAddr); err != nil {
		return c, newError(CodeConfig, "sidecar_addr: %s", err.Error())
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

// checkAddress applies the engine's address rules (native/engine/src/config.rs
// check_address) to a sidecar address: unix:/path, [IPv6]:port, or host:port
// with a host that has no ':' (IPv6 goes in brackets) and no whitespace, and a
// port of digits from 0 to 65535. The error text says what is wrong.
func checkAddress(s string) error {
	const forms = "host:port, [IPv6]:port or unix:/path"
	if strings.TrimSpace(s) == "" {
		return errors.New("must not be empty")
	}
	if path, ok := strings.CutPrefix(s, "unix:"); ok {
		if path == "" {
			return fmt.Errorf("a unix: address names a socket path (%s)", forms)
		}
		return nil
	}
	var host, port string
	if rest, ok := strings.CutPrefix(s, "["); ok {
		ip, p, found := strings.Cut(rest, "]:")
		if !found {
			return fmt.Errorf("must be %s, got %s", forms, quoted(s))
		}
		if a, err := netip.ParseAddr(ip); err != nil || !a.Is6() || a.Zone() != "" {
			return fmt.Errorf("%s is not an IPv6 address (%s)", quoted(ip), forms)
		}
		host, port = ip, p
	} else {
		i := strings.LastIndexByte(s, ':')
		if i < 0 {
			return fmt.Errorf("must be %s (a port is required), got %s", forms, quoted(s))
		}
		host, port = s[:i], s[i+1:]
		if strings.Contains(host, ":") {
			return fmt.Errorf("write an IPv6 address in brackets, [%s]:port (%s)", host, forms)
		}
	}
	if host == "" || strings.IndexFunc(host, unicode.IsSpace) >= 0 {
		return fmt.Errorf("must be %s, got %s", forms, quoted(s))
	}
	digits := port != "" && strings.Trim(port, "0123456789") == ""
	if n, err := strconv.ParseUint(port, 10, 16); !digits || err != nil || n > 65535 {
		return fmt.Errorf("the port must be a number from 0 to 65535, got %s", quoted(port))
	}
	return nil
}

// ConfigFromEnv reads coresdk.toml and CORESDK_* variables as the Node
// client's CoreSDKClient.fromEnv() and the Python SDK's SDKConfig.from_env()
// do. The file is CORESDK_CONFIG, else ./coresdk.toml when it exists;
// variables win over the file; relative TLS paths in the file resolve against
// its directory (in a variable they stay as written).
//
// A client reads its own keys only: the [sdk] keys the configuration contract
// (proto/contract/config.json) gives to clients, sidecar_addr, tenant_id,
// fail_mode, mode, timeout_ms and the tls_* keys, validated with the
// contract's types and limits, and their CORESDK_<KEY> variables (other
// CORESDK_* variables are ignored). Every other key the contract lists for a
// table ([sdk], [sidecar], [sidecar.authzen], [sidecar.clients.<name>],
// [tenants.<id>]) belongs to the engine or the sidecar and is accepted
// without being read, so one coresdk.toml serves the sidecar and its clients.
// A key or table the contract does not list is refused. Errors are ERR_CONFIG
// naming the key as the file writes it or the variable, in the engine's words:
//
//	invalid configuration: CORESDK_FAIL_MODE: must be "open" or "closed", got "x"
//	invalid configuration: sdk.fail_mod: unknown key (known keys: ...)
//
// mode = "in-process" is refused: the Go client reaches the engine through the
// sidecar only. Fields the file cannot set (Retries, Warn...) and keys it does
// not set keep their zero value, which NewClient reads as the default.
func ConfigFromEnv() (Config, error) {
	return configFromEnviron(os.Environ())
}

// configFromEnviron is ConfigFromEnv over environ (KEY=value entries), looking
// for ./coresdk.toml in the working directory.
func configFromEnviron(environ []string) (Config, error) {
	return configFrom(environ, "")
}

// configFrom is ConfigFromEnv over environ (KEY=value entries), with dir ("":
// the working directory) where coresdk.toml is looked for when CORESDK_CONFIG
// is not set. Nothing else of the process is read.
func configFrom(environ []string, dir string) (Config, error) {
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
	} else if p := filepath.Join(dir, "coresdk.toml"); isRegular(p) {
		file = p
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
		if err := checkTable("", "", doc); err != nil {
			return Config{}, err
		}
		if sdk, ok := doc["sdk"].(map[string]any); ok {
			for _, k := range clientKeys {
				if v, ok := sdk[k.name]; ok {
					raw[k.name] = rawValue{name: "sdk." + k.name, value: v}
				}
			}
		}
	}
	for _, k := range clientKeys {
		if v, ok := vars[k.env]; ok {
			raw[k.name] = rawValue{name: k.env, value: v, fromEnv: true}
		}
	}
	var cfg Config
	for _, k := range clientKeys {
		r, ok := raw[k.name]
		if !ok {
			continue
		}
		v, err := k.read(r, base)
		if err != nil {
			return Config{}, err
		}
		switch k.name {
		case "sidecar_addr":
			cfg.SidecarAddr = v.(string)
		case "tenant_id":
			cfg.TenantID = v.(string)
		case "fail_mode":
			cfg.FailMode = FailMode(v.(string))
		case "mode":
			if v == "in-process" {
				return Config{}, configErr(r.name, "the Go client reaches the engine through the sidecar only; \"in-process\" is for Node and Rust")
			}
		case "timeout_ms":
			cfg.Timeout = time.Duration(v.(int64)) * time.Millisecond
		case "tls_ca_file":
			cfg.TLSCAFile = v.(string)
		case "tls_cert_file":
			cfg.TLSCertFile = v.(string)
		case "tls_key_file":
			cfg.TLSKeyFile = v.(string)
		case "tls_server_name":
			cfg.TLSServerName = v.(string)
		}
	}
	return cfg, nil
}

func isRegular(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// read validates one configured value of k with the contract's type and
// limits: an int64 for "int", a string otherwise (a "path" from the file
// resolved against base, the file's directory, when it is relative).
func (k clientKey) read(r rawValue, base string) (any, error) {
	if k.typ == "int" {
		return r.integer(k.min, k.max)
	}
	s, err := r.str()
	if err != nil {
		return nil, err
	}
	switch k.typ {
	case "address":
		if err := checkAddress(s); err != nil {
			return nil, configErr(r.name, "%s", err.Error())
		}
	case "tenant_id":
		if !validTenantID(s) {
			return nil, configErr(r.name, "must be 1-128 characters of letters, digits, '-', '_' or '.'")
		}
	case "enum":
		if !slices.Contains(k.values, s) {
			return nil, configErr(r.name, "must be %s, got %s", oneOf(k.values), quoted(s))
		}
	case "path":
		if !r.fromEnv && base != "" && !filepath.IsAbs(s) {
			s = filepath.Join(base, s)
		}
	}
	return s, nil
}

// oneOf writes values as `"a" or "b"` / `"a", "b" or "c"`.
func oneOf(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = quoted(v)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// checkTable checks one table of the file against the contract's tables
// (tableKeys): pattern is its name with <...> segments written * ("" for the
// whole file), name as the file writes it. A listed key is accepted unread; a
// listed sub-table is checked in turn; anything else is ERR_CONFIG naming it.
func checkTable(pattern, name string, value any) error {
	t, ok := value.(map[string]any)
	if !ok {
		return configErr(name, "must be a table")
	}
	keys := tableKeys[pattern]
	for _, k := range sortedKeys(t) {
		full, sub := join(name, k), join(pattern, k)
		// A dotted key ("sidecar.authzen" = ...) is a key, never a table.
		table := !strings.Contains(k, ".")
		switch {
		case pattern != "" && slices.Contains(keys, k):
			// Another component's key (or one of ours, read by configFrom): not read here.
		case table && knownTable(sub+".*"):
			group, ok := t[k].(map[string]any)
			if !ok {
				return configErr(full, "must be a table of tables ([%s.<name>])", full)
			}
			for _, id := range sortedKeys(group) {
				if err := checkTable(sub+".*", full+"."+id, group[id]); err != nil {
					return err
				}
			}
		case table && knownTable(sub):
			if err := checkTable(sub, full, t[k]); err != nil {
				return err
			}
		case pattern == "":
			return configErr(full, "unknown section (known: %s)", strings.Join(subTables(""), ", "))
		default:
			known := strings.Join(keys, ", ")
			if tables := subTables(pattern); len(tables) > 0 {
				known += "; tables " + strings.Join(tables, ", ")
			}
			return configErr(full, "unknown key (known keys: %s)", known)
		}
	}
	return nil
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// knownTable says whether the contract has the table pattern (or tables under it).
func knownTable(pattern string) bool {
	for t := range tableKeys {
		if t == pattern || strings.HasPrefix(t, pattern+".") {
			return true
		}
	}
	return false
}

// subTables lists the tables directly under pattern as a file writes them:
// [sdk], [sidecar.authzen], [tenants.<name>].
func subTables(pattern string) []string {
	seen := map[string]bool{}
	var out []string
	for t := range tableKeys {
		rest, ok := t, pattern == ""
		if !ok {
			rest, ok = strings.CutPrefix(t, pattern+".")
		}
		if !ok {
			continue
		}
		head, tail, _ := strings.Cut(rest, ".")
		name := join(pattern, head)
		if strings.HasPrefix(tail, "*") {
			name += ".<name>"
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, "["+name+"]")
		}
	}
	sort.Strings(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
