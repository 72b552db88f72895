package coresdk_test

// The test world, started once for the package (TestMain): a PKI made here
// with crypto/x509, a real HTTPS JWKS server, the repository's real sidecar
// (node dist/sidecar/cli.js) over mutual TLS, a second real sidecar that has
// no signing keys, a loopback port where nothing listens and a black-hole
// TCP listener (accepts, never answers), and the conformance tokens.

import (
	"bufio"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coresdk/coresdk/clients/go/coresdk"
)

// repoRoot is the repository root (this file is in clients/go/coresdk).
var repoRoot = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", "..", ".."))
}()

// conformance is clients/conformance/cases.json.
type conformance struct {
	Format int `json:"format"`
	Setup  struct {
		Issuer    string            `json:"issuer"`
		Audience  string            `json:"audience"`
		Algorithm string            `json:"algorithm"`
		Kid       string            `json:"kid"`
		Policy    map[string]string `json:"policy"`
		Routes    []struct {
			Method string         `json:"method"`
			Path   string         `json:"path"`
			Query  string         `json:"query"`
			Input  map[string]any `json:"input"`
		} `json:"routes"`
		Client struct {
			TimeoutMS     int `json:"timeout_ms"`
			Retries       int `json:"retries"`
			SlowTimeoutMS int `json:"slow_timeout_ms"`
		} `json:"client"`
	} `json:"setup"`
	Tokens map[string]struct {
		Claims     map[string]any `json:"claims"`
		ExpOffsetS *int64         `json:"exp_offset_s"`
		Kid        string         `json:"kid"`
		Tamper     map[string]any `json:"tamper"`
	} `json:"tokens"`
	Cases []conformanceCase `json:"cases"`
}

type conformanceCase struct {
	Name         string   `json:"name"`
	Sidecar      string   `json:"sidecar"`
	FailModes    []string `json:"fail_modes"`
	RequireToken *bool    `json:"require_token"`
	Request      struct {
		Method  string      `json:"method"`
		Path    string      `json:"path"`
		Headers [][2]string `json:"headers"`
	} `json:"request"`
	Expect struct {
		Status        int               `json:"status"`
		Headers       map[string]string `json:"headers"`
		AbsentHeaders []string          `json:"absent_headers"`
		Problem       json.RawMessage   `json:"problem"`
		Claims        json.RawMessage   `json:"claims"`
	} `json:"expect"`
}

type pki struct {
	caFile, serverCert, serverKey, clientCert, clientKey, intruderCert, intruderKey string
	serverPair                                                                      tls.Certificate
}

type world struct {
	dir      string
	pki      pki
	cases    conformance
	key      *signingKey
	jwks     *httptest.Server
	sidecar  *sidecarProc
	keyless  *sidecarProc
	deadPort int
	slow     *blackHole
	tokens   map[string]string
}

var w *world

func TestMain(m *testing.M) {
	var err error
	w, err = startWorld()
	if err != nil {
		fmt.Fprintln(os.Stderr, "coresdk tests: cannot start the test world:", err)
		os.Exit(1)
	}
	code := m.Run()
	w.stop()
	os.Exit(code)
}

func startWorld() (*world, error) {
	dir, err := os.MkdirTemp("", "coresdk-go-")
	if err != nil {
		return nil, err
	}
	wd := &world{dir: dir}
	ok := false
	defer func() {
		if !ok {
			wd.stop()
		}
	}()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "clients", "conformance", "cases.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &wd.cases); err != nil {
		return nil, err
	}
	if wd.pki, err = makePKI(filepath.Join(dir, "pki")); err != nil {
		return nil, err
	}
	setup := wd.cases.Setup
	if wd.key, err = newSigningKey(setup.Kid); err != nil {
		return nil, err
	}
	bundle := filepath.Join(dir, "bundle")
	if err := os.MkdirAll(bundle, 0o755); err != nil {
		return nil, err
	}
	for name, text := range setup.Policy {
		if err := os.WriteFile(filepath.Join(bundle, name), []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	// The value corpus (values.json) is served by the same sidecar.
	values, err := os.ReadFile(filepath.Join(repoRoot, "clients", "conformance", "values", "values.rego"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(bundle, "values.rego"), values, 0o644); err != nil {
		return nil, err
	}
	jwks, _ := json.Marshal(map[string]any{"keys": []any{wd.key.jwk()}})
	wd.jwks = httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/jwks" {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		_, _ = rw.Write(jwks)
	}))
	wd.jwks.TLS = &tls.Config{Certificates: []tls.Certificate{wd.pki.serverPair}}
	wd.jwks.StartTLS()
	common := map[string]string{
		"CORESDK_SIDECAR_ADDR":               "127.0.0.1:0",
		"CORESDK_POLICY_DIR":                 bundle,
		"CORESDK_ISSUER":                     setup.Issuer,
		"CORESDK_AUDIENCE":                   setup.Audience,
		"CORESDK_JWKS_CA_FILE":               wd.pki.caFile,
		"CORESDK_SIDECAR_TLS_CERT_FILE":      wd.pki.serverCert,
		"CORESDK_SIDECAR_TLS_KEY_FILE":       wd.pki.serverKey,
		"CORESDK_SIDECAR_TLS_CLIENT_CA_FILE": wd.pki.caFile,
	}
	up := copyEnv(common)
	up["CORESDK_JWKS_URL"] = wd.jwks.URL + "/jwks"
	if wd.sidecar, err = startSidecar(up, true); err != nil {
		return nil, err
	}
	if wd.deadPort, err = freePort(); err != nil {
		return nil, err
	}
	if wd.slow, err = newBlackHole(); err != nil {
		return nil, err
	}
	// A real sidecar whose key set cannot be fetched: it answers ERR_JWKS_UNAVAILABLE (never SERVING).
	keyless := copyEnv(common)
	keyless["CORESDK_JWKS_URL"] = fmt.Sprintf("https://127.0.0.1:%d/jwks", wd.deadPort)
	if wd.keyless, err = startSidecar(keyless, false); err != nil {
		return nil, err
	}
	if wd.tokens, err = wd.mintTokens(); err != nil {
		return nil, err
	}
	ok = true
	return wd, nil
}

func (wd *world) stop() {
	if wd.sidecar != nil {
		wd.sidecar.stop()
	}
	if wd.keyless != nil {
		wd.keyless.stop()
	}
	if wd.jwks != nil {
		wd.jwks.Close()
	}
	if wd.slow != nil {
		wd.slow.close()
	}
	_ = os.RemoveAll(wd.dir)
}

func copyEnv(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// config is a client config for the sidecar in state (up / down / slow / keyless).
func (wd *world) config(state string, failMode coresdk.FailMode) coresdk.Config {
	addr := map[string]string{
		"up":      wd.sidecar.addr,
		"keyless": wd.keyless.addr,
		"down":    fmt.Sprintf("127.0.0.1:%d", wd.deadPort),
		"slow":    fmt.Sprintf("127.0.0.1:%d", wd.slow.port),
	}[state]
	if addr == "" {
		panic(fmt.Sprintf("unknown sidecar state %q", state))
	}
	c := wd.cases.Setup.Client
	timeout := c.TimeoutMS
	if state == "slow" {
		timeout = c.SlowTimeoutMS
	}
	retries := c.Retries
	if retries == 0 {
		retries = coresdk.NoRetries
	}
	return coresdk.Config{
		SidecarAddr:   addr,
		FailMode:      failMode,
		TLSCAFile:     wd.pki.caFile,
		TLSCertFile:   wd.pki.clientCert,
		TLSKeyFile:    wd.pki.clientKey,
		TLSServerName: "localhost",
		Timeout:       time.Duration(timeout) * time.Millisecond,
		Retries:       retries,
		Warn:          func(string) {},
	}
}

func (wd *world) client(t testing.TB, state string, failMode coresdk.FailMode, edit ...func(*coresdk.Config)) *coresdk.Client {
	t.Helper()
	cfg := wd.config(state, failMode)
	for _, f := range edit {
		f(&cfg)
	}
	c, err := coresdk.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// ---------------------------------------------------------------- PKI

func makePKI(dir string) (pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return pki{}, err
	}
	ca, caKey, err := makeCA("coresdk ca")
	if err != nil {
		return pki{}, err
	}
	otherCA, otherKey, err := makeCA("coresdk other-ca")
	if err != nil {
		return pki{}, err
	}
	var p pki
	p.caFile = filepath.Join(dir, "ca.pem")
	if err := writePEM(p.caFile, "CERTIFICATE", ca.Raw); err != nil {
		return pki{}, err
	}
	issue := func(name string, parent *x509.Certificate, parentKey crypto.Signer, server bool) (string, string, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return "", "", err
		}
		tmpl := &x509.Certificate{
			SerialNumber:          serial(),
			Subject:               pkix.Name{CommonName: name},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(48 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature,
			BasicConstraintsValid: true,
		}
		if server {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			tmpl.IPAddresses = []net.IP{net.IPv6loopback, net.IPv4(127, 0, 0, 1)}
			tmpl.DNSNames = []string{"localhost"}
		} else {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
			tmpl.DNSNames = []string{name}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			return "", "", err
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return "", "", err
		}
		certFile, keyFile := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
		if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
			return "", "", err
		}
		return certFile, keyFile, writePEM(keyFile, "PRIVATE KEY", keyDER)
	}
	if p.serverCert, p.serverKey, err = issue("server", ca, caKey, true); err != nil {
		return pki{}, err
	}
	if p.clientCert, p.clientKey, err = issue("client", ca, caKey, false); err != nil {
		return pki{}, err
	}
	if p.intruderCert, p.intruderKey, err = issue("intruder", otherCA, otherKey, false); err != nil {
		return pki{}, err
	}
	p.serverPair, err = tls.LoadX509KeyPair(p.serverCert, p.serverKey)
	return p, err
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	return n
}

func makeCA(cn string) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(48 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

// ---------------------------------------------------------------- tokens

type signingKey struct {
	kid string
	key *ecdsa.PrivateKey
}

func newSigningKey(kid string) (*signingKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return &signingKey{kid: kid, key: k}, err
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (k *signingKey) jwk() map[string]any {
	pub, err := k.key.PublicKey.ECDH()
	if err != nil {
		panic(err)
	}
	raw := pub.Bytes() // 0x04 || X || Y
	return map[string]any{
		"kty": "EC", "crv": "P-256", "x": b64u(raw[1:33]), "y": b64u(raw[33:65]),
		"kid": k.kid, "use": "sig", "alg": "ES256",
	}
}

// mint signs claims as an ES256 JWT (header alg, kid, typ JWT).
func (k *signingKey) mint(claims map[string]any) (string, error) {
	h, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": k.kid, "typ": "JWT"})
	p, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := b64u(h) + "." + b64u(p)
	digest := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, k.key, digest[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signing + "." + b64u(sig), nil
}

// mintTokens mints every token kind of cases.json now. A kind with a kid is
// signed by another key with that kid, which the published key set does not have.
func (wd *world) mintTokens() (map[string]string, error) {
	out := map[string]string{}
	others := map[string]*signingKey{}
	now := time.Now().Unix()
	for kind, spec := range wd.cases.Tokens {
		exp := now + 600
		if spec.ExpOffsetS != nil {
			exp = now + *spec.ExpOffsetS
		}
		claims := map[string]any{"iss": wd.cases.Setup.Issuer, "aud": wd.cases.Setup.Audience, "iat": min(now, exp-3600), "exp": exp}
		for k, v := range spec.Claims {
			claims[k] = v
		}
		key := wd.key
		if spec.Kid != "" {
			if others[spec.Kid] == nil {
				k, err := newSigningKey(spec.Kid)
				if err != nil {
					return nil, err
				}
				others[spec.Kid] = k
			}
			key = others[spec.Kid]
		}
		token, err := key.mint(claims)
		if err != nil {
			return nil, err
		}
		if spec.Tamper != nil {
			for k, v := range spec.Tamper {
				claims[k] = v
			}
			p, _ := json.Marshal(claims)
			parts := strings.Split(token, ".")
			token = parts[0] + "." + b64u(p) + "." + parts[2]
		}
		out[kind] = token
	}
	return out, nil
}

// ---------------------------------------------------------------- the sidecar process

type sidecarProc struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}

	mu     sync.Mutex
	events []map[string]any
	stderr strings.Builder
	notify chan struct{}
}

// startSidecar runs node dist/sidecar/cli.js with env (and no other CORESDK_* variable).
func startSidecar(env map[string]string, waitServing bool) (*sidecarProc, error) {
	bin := filepath.Join(repoRoot, "dist", "sidecar", "cli.js")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s is missing: run `npm ci` (or `npm run build:ts`) at the repository root first", bin)
	}
	cmd := exec.Command("node", bin)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CORESDK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &sidecarProc{cmd: cmd, done: make(chan struct{}), notify: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) == nil {
				s.mu.Lock()
				s.events = append(s.events, rec)
				s.mu.Unlock()
				select {
				case s.notify <- struct{}{}:
				default:
				}
			}
		}
	}()
	go func() {
		defer wg.Done()
		b := bufio.NewReader(stderr)
		buf := make([]byte, 4096)
		for {
			n, err := b.Read(buf)
			s.mu.Lock()
			s.stderr.Write(buf[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() { wg.Wait(); _ = cmd.Wait(); close(s.done) }()
	listening, err := s.waitFor("listening", 60*time.Second)
	if err != nil {
		s.stop()
		return nil, err
	}
	s.addr, _ = listening["addr"].(string)
	if waitServing {
		if _, err := s.waitFor("serving", 60*time.Second); err != nil {
			s.stop()
			return nil, err
		}
	}
	return s, nil
}

func (s *sidecarProc) waitFor(event string, timeout time.Duration) (map[string]any, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		for _, rec := range s.events {
			if rec["event"] == event {
				s.mu.Unlock()
				return rec, nil
			}
		}
		stderr := s.stderr.String()
		s.mu.Unlock()
		select {
		case <-s.notify:
		case <-s.done:
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, rec := range s.events {
				if rec["event"] == event {
					return rec, nil
				}
			}
			return nil, fmt.Errorf("sidecar exited before %q; stderr: %s", event, s.stderr.String())
		case <-deadline.C:
			return nil, fmt.Errorf("sidecar: no %q log line in %s; stderr: %s", event, timeout, stderr)
		}
	}
}

// stop sends SIGTERM (SIGKILL after 10 s) and waits.
func (s *sidecarProc) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// ---------------------------------------------------------------- misbehaving "sidecars"

// freePort is a loopback port where nothing listens.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// blackHole accepts TCP connections on loopback and never answers a byte (a "slow" sidecar).
type blackHole struct {
	l    net.Listener
	port int
	mu   sync.Mutex
	held []net.Conn
}

func newBlackHole() (*blackHole, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &blackHole{l: l, port: l.Addr().(*net.TCPAddr).Port}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.held = append(b.held, c)
			b.mu.Unlock()
		}
	}()
	return b, nil
}

func (b *blackHole) close() {
	_ = b.l.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.held {
		_ = c.Close()
	}
}

var errNoToken = errors.New("unknown token kind")

// fill replaces {{token:<kind>}} with the minted token.
func (wd *world) fill(v string) (string, error) {
	for kind, token := range wd.tokens {
		v = strings.ReplaceAll(v, "{{token:"+kind+"}}", token)
	}
	if strings.Contains(v, "{{token:") {
		return "", fmt.Errorf("%w in %q", errNoToken, v)
	}
	return v, nil
}
