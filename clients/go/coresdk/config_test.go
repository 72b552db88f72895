package coresdk

// ConfigFromEnv and Config validation: the Node client's keys, defaults and
// error messages (the same cases as the Python SDK's test_config.py).

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func configError(t *testing.T, err error) string {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeConfig {
		t.Fatalf("want an ERR_CONFIG error, got %v", err)
	}
	return e.Message
}

func TestDefaultsMatchTheNodeClient(t *testing.T) {
	cfg, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SidecarAddr != "[::1]:50051" || cfg.TenantID != "acme-corp" || cfg.FailMode != FailOpen ||
		cfg.Timeout != time.Second || cfg.Retries != 2 || cfg.Backoff != 25*time.Millisecond ||
		cfg.BreakerFailureThreshold != 5 || cfg.BreakerReset != 5*time.Second {
		t.Fatalf("%+v", cfg)
	}
}

func TestVariablesOverrideTheFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "coresdk.toml")
	text := "[sdk]\nsidecar_addr = \"127.0.0.1:7000\"\nfail_mode = \"closed\"\ntimeout_ms = 250\ntls_ca_file = \"certs/ca.pem\"\n" +
		"policy_dir = \"./policies\"\n\n[sidecar]\nmax_batch = 64\n\n[tenants.globex]\naudience = \"g\"\n"
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := configFromEnviron([]string{"CORESDK_CONFIG=" + file, "CORESDK_FAIL_MODE=open", "CORESDK_TENANT_ID=globex", "OTHER=1"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SidecarAddr != "127.0.0.1:7000" || cfg.FailMode != FailOpen || cfg.TenantID != "globex" ||
		cfg.Timeout != 250*time.Millisecond || cfg.TLSCAFile != filepath.Join(dir, "certs", "ca.pem") {
		t.Fatalf("%+v", cfg)
	}
	cfg, err = configFromEnviron([]string{"CORESDK_CONFIG=" + file, "CORESDK_TLS_CA_FILE=rel/ca.pem"})
	if err != nil || cfg.TLSCAFile != "rel/ca.pem" {
		t.Fatalf("a variable's relative path stays relative to the working directory: %+v %v", cfg, err)
	}
}

func TestReadsCoresdkTomlInTheWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "coresdk.toml"), []byte("[sdk]\ntenant_id = \"initech\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.Chdir(wd) }()
	cfg, err := configFromEnviron(nil)
	if err != nil || cfg.TenantID != "initech" {
		t.Fatalf("%+v %v", cfg, err)
	}
	t.Setenv("CORESDK_TENANT_ID", "hooli")
	cfg, err = ConfigFromEnv()
	if err != nil || cfg.TenantID != "hooli" {
		t.Fatalf("%+v %v", cfg, err)
	}
}

func TestErrorsNameTheVariable(t *testing.T) {
	for env, want := range map[string]string{
		"CORESDK_FAIL_MODE=maybe":                  `invalid configuration: CORESDK_FAIL_MODE: must be "open" or "closed", got "maybe"`,
		"CORESDK_TIMEOUT_MS=soon":                  `invalid configuration: CORESDK_TIMEOUT_MS: expected an integer, got "soon"`,
		"CORESDK_TIMEOUT_MS=0":                     "invalid configuration: CORESDK_TIMEOUT_MS: must be between 1 and 600000, got 0",
		"CORESDK_SIDECAR_ADDR= ":                   "invalid configuration: CORESDK_SIDECAR_ADDR: must not be empty",
		"CORESDK_TENANT_ID=no spaces":              "invalid configuration: CORESDK_TENANT_ID: must be 1-128 characters of letters, digits, '-', '_' or '.'",
		"CORESDK_MODE=remote":                      `invalid configuration: CORESDK_MODE: must be "sidecar" or "in-process", got "remote"`,
		"CORESDK_CONFIG=/nonexistent/coresdk.toml": "invalid configuration: CORESDK_CONFIG: /nonexistent/coresdk.toml:",
	} {
		_, err := configFromEnviron([]string{env})
		if msg := configError(t, err); !strings.HasPrefix(msg, want) {
			t.Errorf("%s:\n got %s\nwant %s", env, msg, want)
		}
	}
}

func TestInProcessModeIsRefusedWithAReason(t *testing.T) {
	_, err := configFromEnviron([]string{"CORESDK_MODE=in-process"})
	if !strings.Contains(configError(t, err), "through the sidecar only") {
		t.Fatal(err)
	}
	if cfg, err := configFromEnviron([]string{"CORESDK_MODE=sidecar"}); err != nil || !reflect.DeepEqual(cfg, Config{}) {
		t.Fatalf("%+v %v", cfg, err)
	}
}

func TestFileErrorsNameTheKey(t *testing.T) {
	for text, want := range map[string]string{
		"[sdk]\nfail_mode = 1\n":            "invalid configuration: sdk.fail_mode: expected a string, got integer",
		"[sdk]\ntimeout_ms = \"5\"\n":       "invalid configuration: sdk.timeout_ms: expected an integer, got string",
		"[sdk]\nfail_mdoe = 'open'\n":       "invalid configuration: sdk.fail_mdoe: unknown key (known keys: policy_dir, ",
		"[sidecar]\ntls_crt = 'x'\n":        "invalid configuration: sidecar.tls_crt: unknown key",
		"[tenants.b]\npool_size = 2\n":      "invalid configuration: tenants.b.pool_size: unknown key",
		"[clients]\nx = 1\n":                "invalid configuration: clients: unknown section (known: [sdk], [sidecar], [tenants.<name>])",
		"[sdk\n":                            "invalid configuration: coresdk.toml: ",
		"[sidecar.authzen]\nadress = 1\n":   "invalid configuration: sidecar.authzen.adress: unknown key (known keys: addr, ",
		"[sidecar]\nmax_bach = 1\n":         "invalid configuration: sidecar.max_bach: unknown key (known keys: tls_cert_file, ",
		"[sidecar.clients.a]\nx = 1\n":      "invalid configuration: sidecar.clients.a.x: unknown key (known keys: allowed_queries)",
		"[sidecar]\nclients = 1\n":          "invalid configuration: sidecar.clients: must be a table of tables ([sidecar.clients.<name>])",
		"[sidecar]\nauthzen = 1\n":          "invalid configuration: sidecar.authzen: must be a table",
		"tenants = 1\n":                     "invalid configuration: tenants: must be a table of tables ([tenants.<name>])",
		"[tenants]\nglobex = 1\n":           "invalid configuration: tenants.globex: must be a table",
		"sdk = 1\n":                         "invalid configuration: sdk: must be a table",
		"[sdk]\nsidecar_addr = \"::1:1\"\n": "invalid configuration: sdk.sidecar_addr: write an IPv6 address in brackets, [::1]:port",
		"[sdk]\n\"sidecar.authzen\" = 1\n":  "invalid configuration: sdk.sidecar.authzen: unknown key",
	} {
		file := filepath.Join(t.TempDir(), "coresdk.toml")
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := configFromEnviron([]string{"CORESDK_CONFIG=" + file})
		if msg := configError(t, err); !strings.HasPrefix(msg, want) {
			t.Errorf("%q:\n got %s\nwant %s", text, msg, want)
		}
	}
}

// One coresdk.toml serves the sidecar and its clients: the client reads its
// [sdk] keys and accepts every other key and table the contract lists
// without reading its value (the sidecar validates those).
func TestTheSidecarsKeysAreAcceptedUnread(t *testing.T) {
	file := filepath.Join(t.TempDir(), "coresdk.toml")
	text := "[sdk]\nfail_mode = \"closed\"\nfast_path = \"not a boolean\"\nbundle_url = 7\n" +
		"[sidecar]\nmax_batch = \"lots\"\n[sidecar.authzen]\naddr = 8443\n" +
		"[sidecar.clients.\"orders.acme.example\"]\nallowed_queries = 1\n[tenants.\"a b\"]\naudience = 1\n"
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := configFrom([]string{"CORESDK_CONFIG=" + file, "CORESDK_POOL_SIZE=nope", "CORESDK_SIDECAR_MAX_BATCH=x"}, "")
	if err != nil || !reflect.DeepEqual(cfg, Config{FailMode: FailClosed}) {
		t.Fatalf("%+v %v", cfg, err)
	}
}

func TestNewClientValidatesEveryField(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{FailMode: "sometimes"}, `fail_mode: must be "open" or "closed", got "sometimes"`},
		{Config{Timeout: -1}, "timeout_ms: must be between 1 ms and 600000 ms"},
		{Config{Retries: 11}, "retries: must be between 0 and 10"},
		{Config{SidecarAddr: " "}, "sidecar_addr: must not be empty"},
		{Config{SidecarAddr: "localhost"}, "sidecar_addr: must be host:port, [IPv6]:port or unix:/path (a port is required)"},
		{Config{SidecarAddr: "::1:50051"}, "sidecar_addr: write an IPv6 address in brackets"},
		{Config{TenantID: "a b"}, "tenant_id: must be 1-128 characters"},
		{Config{BreakerFailureThreshold: -2}, "breaker_failure_threshold: must be between 1 and 1000000"},
		{Config{SidecarAddr: "10.0.0.8:50051"}, "CORESDK_SIDECAR_ADDR: 10.0.0.8:50051 is not loopback"},
		{Config{TLSCAFile: "ca.pem"}, "CORESDK_TLS_CA_FILE, CORESDK_TLS_CERT_FILE and CORESDK_TLS_KEY_FILE go together"},
		{Config{TLSCAFile: "/nonexistent/ca.pem", TLSCertFile: "c", TLSKeyFile: "k"}, "CORESDK_TLS_CA_FILE: cannot read /nonexistent/ca.pem"},
	} {
		_, err := NewClient(tc.cfg)
		if msg := configError(t, err); !strings.HasPrefix(msg, tc.want) {
			t.Errorf("%+v:\n got %s\nwant %s", tc.cfg, msg, tc.want)
		}
	}
}

func TestPlaintextOnlyToLoopbackOrUnix(t *testing.T) {
	for _, addr := range []string{"[::1]:50051", "127.0.0.1:1", "localhost:50051", "unix:/tmp/x.sock"} {
		c, err := NewClient(Config{SidecarAddr: addr})
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		_ = c.Close()
	}
}
