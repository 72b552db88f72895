package coresdk

// The configuration conformance cases (clients/conformance/config.json), in
// Go: ConfigFromEnv's reading (configFrom, with every variable passed
// explicitly and no working-directory file) resolves each file and variable
// set to the same client settings as the Node, Python and Java clients, or
// refuses it with ERR_CONFIG naming the key and its source.

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

type configCase struct {
	Name      string            `json:"name"`
	File      *string           `json:"file"`
	Env       map[string]string `json:"env"`
	Languages []string          `json:"languages"`
	Expect    map[string]any    `json:"expect"`
	Error     *struct {
		Code  string   `json:"code"`
		Names []string `json:"names"`
	} `json:"error"`
}

type configCaseFile struct {
	Defaults map[string]any `json:"defaults"`
	Cases    []configCase   `json:"cases"`
}

func loadConfigCases(t *testing.T) configCaseFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "conformance", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f configCaseFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) == 0 {
		t.Fatal("clients/conformance/config.json has no cases")
	}
	return f
}

// clientSettings is what a Config resolves to (NewClient's defaults filled in), keyed as the case file writes it.
func clientSettings(cfg Config) (map[string]any, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	orNil := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	return map[string]any{
		"sidecar_addr":    cfg.SidecarAddr,
		"tenant_id":       cfg.TenantID,
		"fail_mode":       string(cfg.FailMode),
		"mode":            "sidecar", // the only mode of the Go client
		"timeout_ms":      float64(cfg.Timeout / time.Millisecond),
		"tls_ca_file":     orNil(cfg.TLSCAFile),
		"tls_cert_file":   orNil(cfg.TLSCertFile),
		"tls_key_file":    orNil(cfg.TLSKeyFile),
		"tls_server_name": orNil(cfg.TLSServerName),
	}, nil
}

func TestConfigConformance(t *testing.T) {
	spec := loadConfigCases(t)
	ran := 0
	for _, c := range spec.Cases {
		if c.Languages != nil && !slices.Contains(c.Languages, "go") {
			continue
		}
		ran++
		t.Run(c.Name, func(t *testing.T) {
			dir := t.TempDir()
			fill := func(s string) string { return strings.ReplaceAll(s, "{dir}", dir) }
			var environ []string
			if c.File != nil {
				file := filepath.Join(dir, "coresdk.toml")
				if err := os.WriteFile(file, []byte(*c.File), 0o644); err != nil {
					t.Fatal(err)
				}
				environ = append(environ, "CORESDK_CONFIG="+file)
			}
			for k, v := range c.Env {
				environ = append(environ, k+"="+fill(v))
			}
			cfg, err := configFrom(environ, dir)
			if c.Error != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("want %s naming %v, got %v (%+v)", c.Error.Code, c.Error.Names, err, cfg)
				}
				if string(e.Code) != c.Error.Code {
					t.Errorf("code %s, want %s: %v", e.Code, c.Error.Code, err)
				}
				for _, name := range c.Error.Names {
					if !strings.Contains(e.Message, name) {
						t.Errorf("the message does not name %s: %s", name, e.Message)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := clientSettings(cfg)
			if err != nil {
				t.Fatalf("NewClient would refuse what ConfigFromEnv returned: %v", err)
			}
			want := map[string]any{}
			for k, v := range spec.Defaults {
				want[k] = v
			}
			for k, v := range c.Expect {
				if s, ok := v.(string); ok {
					v = fill(s)
				}
				want[k] = v
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("settings\n got %v\nwant %v", got, want)
			}
		})
	}
	if ran == 0 {
		t.Fatal("no configuration case runs in Go")
	}
	t.Logf("%d of %d configuration cases run in Go", ran, len(spec.Cases))
}

// The case file's settings, the generated client keys and the Go defaults are the same set.
func TestClientKeysAreTheCaseFileSettings(t *testing.T) {
	spec := loadConfigCases(t)
	var names []string
	for _, k := range clientKeys {
		names = append(names, k.name)
		if want, ok := spec.Defaults[k.name]; !ok {
			t.Errorf("%s: not in config.json's defaults", k.name)
		} else if def := k.def; !reflect.DeepEqual(jsonValue(def), want) {
			t.Errorf("%s: the contract's default %v, the case file's %v", k.name, def, want)
		}
	}
	settings, err := clientSettings(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(settings, spec.Defaults) {
		t.Errorf("Config{} resolves to\n %v\nthe contract's defaults are\n %v", settings, spec.Defaults)
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	sort.Strings(names)
	if !reflect.DeepEqual(keys, names) {
		t.Errorf("the Go client resolves %v; the contract's client keys are %v", keys, names)
	}
}

// jsonValue is v as encoding/json decodes it (numbers as float64).
func jsonValue(v any) any {
	raw, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(raw, &out)
	return out
}

// Every client key is read from its variable and from [sdk], and refused when it is malformed.
func TestEveryClientKeyIsRead(t *testing.T) {
	for _, k := range clientKeys {
		var value string
		switch k.typ {
		case "int":
			value = "7"
		case "enum":
			value = k.values[0]
		case "address":
			value = "127.0.0.1:7"
		default:
			value = "x"
		}
		cfg, err := configFrom([]string{k.env + "=" + value}, t.TempDir())
		if err != nil {
			t.Fatalf("%s=%s: %v", k.env, value, err)
		}
		if k.name != "mode" && reflect.DeepEqual(cfg, Config{}) {
			t.Errorf("%s=%s: not read", k.env, value)
		}
		file := filepath.Join(t.TempDir(), "coresdk.toml")
		if err := os.WriteFile(file, []byte("[sdk]\n"+k.name+" = []\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = configFrom([]string{"CORESDK_CONFIG=" + file}, "")
		if msg := configError(t, err); !strings.Contains(msg, "sdk."+k.name+": expected ") {
			t.Errorf("%s = []: %s", k.name, msg)
		}
	}
}

// check_address's cases (native/engine/src/client_config.rs), and a few more.
func TestAddressesAsTheEngineParsesThem(t *testing.T) {
	for _, ok := range []string{
		"[::1]:50051", "127.0.0.1:50051", "localhost:50051", "unix:/run/coresdk.sock", "[::]:0",
		"sidecar.internal:443", "[::ffff:127.0.0.1]:1", "unix:relative.sock",
	} {
		if err := checkAddress(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for bad, want := range map[string]string{
		"":                 "must not be empty",
		" ":                "must not be empty",
		"localhost":        "(a port is required)",
		"::1:50051":        "write an IPv6 address in brackets, [::1]:port",
		"[::1]":            `must be host:port, [IPv6]:port or unix:/path, got "[::1]"`,
		"[::1]:":           `the port must be a number from 0 to 65535, got ""`,
		"[nope]:1":         `"nope" is not an IPv6 address`,
		"[127.0.0.1]:1":    `"127.0.0.1" is not an IPv6 address`,
		"[fe80::1%eth0]:1": `"fe80::1%eth0" is not an IPv6 address`,
		"host:99999":       `got "99999"`,
		"host:65536":       `got "65536"`,
		"host:-1":          `got "-1"`,
		"host:+1":          `got "+1"`,
		":50051":           `must be host:port, [IPv6]:port or unix:/path, got ":50051"`,
		"unix:":            "a unix: address names a socket path",
		"a b:1":            `got "a b:1"`,
	} {
		err := checkAddress(bad)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %s", bad, err, want)
		}
	}
}
