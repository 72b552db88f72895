package bench

// The benchmark's world: a CA and certificates (crypto/x509), an ES256 key
// published as a JWKS over HTTPS on loopback, the repository's real sidecar
// (node dist/sidecar/cli.js) over mutual TLS with the conformance policy, and
// tokens minted with golang-jwt. Every stack below verifies the same tokens
// against the same key set and decides with the same Rego policy.

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
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

	"github.com/golang-jwt/jwt/v5"
)

const (
	distinctTokens = 8192
	issuer         = "https://issuer.test"
	audience       = "api"
	kid            = "k1"
	policy         = "package authz\n\nimport rego.v1\n\ndefault allow := false\n\nallow if input.claims.role == \"admin\"\n\nallow if {\n\tinput.claims.role == \"reader\"\n\tinput.action == \"read\"\n}\n"
)

type env struct {
	dir                        string
	caFile, certFile, keyFile  string
	caPool                     *x509.CertPool
	jwksURL                    string
	jwks                       *httptest.Server
	sidecar                    *exec.Cmd
	sidecarAddr                string
	sidecarDone                chan struct{}
	reader, admin              string   // tokens
	distinct                   []string // distinctTokens reader tokens
	signer                     *ecdsa.PrivateKey
	serverPair                 tls.Certificate
	clientCertFile, clientKeyF string
}

var (
	envOnce sync.Once
	theEnv  *env
	envErr  error
)

// world starts the environment once per process.
func world(b testing.TB) *env {
	envOnce.Do(func() { theEnv, envErr = start() })
	if envErr != nil {
		b.Fatal(envErr)
	}
	return theEnv
}

func TestMain(m *testing.M) {
	code := m.Run()
	if theEnv != nil {
		theEnv.stop()
	}
	os.Exit(code)
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

func cert(tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber, _ = rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	tmpl.BasicConstraintsValid = true
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, key, err
}

func start() (*env, error) {
	dir, err := os.MkdirTemp("", "coresdk-go-bench-")
	if err != nil {
		return nil, err
	}
	e := &env{dir: dir}
	ca, caKey, err := cert(&x509.Certificate{Subject: pkix.Name{CommonName: "bench ca"}, IsCA: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	if err != nil {
		return nil, err
	}
	srv, srvKey, err := cert(&x509.Certificate{
		Subject: pkix.Name{CommonName: "server"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv6loopback, net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}, ca, caKey)
	if err != nil {
		return nil, err
	}
	cli, cliKey, err := cert(&x509.Certificate{
		Subject: pkix.Name{CommonName: "client"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, DNSNames: []string{"client"},
	}, ca, caKey)
	if err != nil {
		return nil, err
	}
	e.caFile = filepath.Join(dir, "ca.pem")
	e.certFile, e.keyFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	e.clientCertFile, e.clientKeyF = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	for _, f := range []struct {
		path string
		typ  string
		der  func() ([]byte, error)
	}{
		{e.caFile, "CERTIFICATE", func() ([]byte, error) { return ca.Raw, nil }},
		{e.certFile, "CERTIFICATE", func() ([]byte, error) { return srv.Raw, nil }},
		{e.keyFile, "PRIVATE KEY", func() ([]byte, error) { return x509.MarshalPKCS8PrivateKey(srvKey) }},
		{e.clientCertFile, "CERTIFICATE", func() ([]byte, error) { return cli.Raw, nil }},
		{e.clientKeyF, "PRIVATE KEY", func() ([]byte, error) { return x509.MarshalPKCS8PrivateKey(cliKey) }},
	} {
		der, err := f.der()
		if err != nil {
			return nil, err
		}
		if err := writePEM(f.path, f.typ, der); err != nil {
			return nil, err
		}
	}
	e.caPool = x509.NewCertPool()
	e.caPool.AddCert(ca)
	if e.serverPair, err = tls.LoadX509KeyPair(e.certFile, e.keyFile); err != nil {
		return nil, err
	}
	if e.signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	pub, _ := e.signer.PublicKey.ECDH()
	raw := pub.Bytes()
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{
		"kty": "EC", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:65]), "kid": kid, "use": "sig", "alg": "ES256",
	}}})
	e.jwks = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	e.jwks.TLS = &tls.Config{Certificates: []tls.Certificate{e.serverPair}}
	e.jwks.StartTLS()
	e.jwksURL = e.jwks.URL + "/jwks"
	mint := func(role string, jti int) (string, error) {
		now := time.Now()
		t := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
			"iss": issuer, "aud": audience, "sub": "user-" + role, "role": role,
			"iat": now.Unix(), "exp": now.Add(2 * time.Hour).Unix(), "jti": fmt.Sprint(jti),
		})
		t.Header["kid"] = kid
		return t.SignedString(e.signer)
	}
	if e.reader, err = mint("reader", 0); err != nil {
		return nil, err
	}
	if e.admin, err = mint("admin", 0); err != nil {
		return nil, err
	}
	// More distinct tokens than the sidecar's verified-token cache holds (4096 by default):
	// taken round robin, every verification is a cache miss.
	e.distinct = make([]string, distinctTokens)
	for i := range e.distinct {
		if e.distinct[i], err = mint("reader", i+1); err != nil {
			return nil, err
		}
	}
	bundle := filepath.Join(dir, "bundle")
	if err := os.MkdirAll(bundle, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(bundle, "authz.rego"), []byte(policy), 0o644); err != nil {
		return nil, err
	}
	return e, e.startSidecar(bundle)
}

func (e *env) startSidecar(bundle string) error {
	bin, _ := filepath.Abs(filepath.Join("..", "..", "dist", "sidecar", "cli.js"))
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s is missing: run `npm ci` at the repository root first", bin)
	}
	cmd := exec.Command("node", bin)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CORESDK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"CORESDK_SIDECAR_ADDR=127.0.0.1:0", "CORESDK_POLICY_DIR="+bundle, "CORESDK_ISSUER="+issuer,
		"CORESDK_AUDIENCE="+audience, "CORESDK_JWKS_URL="+e.jwksURL, "CORESDK_JWKS_CA_FILE="+e.caFile,
		"CORESDK_SIDECAR_TLS_CERT_FILE="+e.certFile, "CORESDK_SIDECAR_TLS_KEY_FILE="+e.keyFile,
		"CORESDK_SIDECAR_TLS_CLIENT_CA_FILE="+e.caFile,
	)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	e.sidecar, e.sidecarDone = cmd, make(chan struct{})
	ready := make(chan struct{})
	go func() {
		defer close(e.sidecarDone)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		serving, signalled, addr := false, false, ""
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				continue
			}
			switch rec["event"] {
			case "listening":
				addr, _ = rec["addr"].(string)
			case "serving":
				serving = true
			}
			if serving && addr != "" && !signalled { // the two lines may come in either order
				signalled = true
				e.sidecarAddr = addr
				close(ready)
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case <-ready:
		return nil
	case <-e.sidecarDone:
		return fmt.Errorf("the sidecar exited before serving")
	case <-time.After(60 * time.Second):
		return fmt.Errorf("the sidecar did not report serving in 60 s")
	}
}

func (e *env) stop() {
	if e.sidecar != nil {
		_ = e.sidecar.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.sidecarDone:
		case <-time.After(10 * time.Second):
			_ = e.sidecar.Process.Kill()
		}
	}
	if e.jwks != nil {
		e.jwks.Close()
	}
	_ = os.RemoveAll(e.dir)
}
