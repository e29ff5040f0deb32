// Command istio-ca serves Istio's own certificate authority over Istio's own gRPC server code, so that
// meshca's bench and tests can measure and check the CA an Istio user would otherwise run (istiod's),
// on the very same API (istio.v1.auth.IstioCertificateService/CreateCertificate).
//
// It is istiod's CA path and nothing else: security/pkg/pki/ca's IstioCA over a plugged signing bundle
// (Istio's cacerts layout: ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem), the
// security/pkg/server/ca gRPC service with istiod's gRPC server options, and Istio's JWT authenticator
// (security/pkg/server/ca/authenticate) configured from a JWT rule, as istiod is with JWT_RULE.
//
// The token issuer is named by --issuer, and its keys are the JSON Web Key Set in --jwks. Istio's
// authenticator finds an issuer's keys by OIDC discovery, and only then accepts the algorithms the
// issuer announces (ES256 for meshca's embedded issuer: given a bare jwksUri it would accept RS256
// only). meshca's issuer name (https://meshca.local/token-issuer) is not a host anyone serves, so this
// program answers the issuer's two documents, its discovery document and its JWKS, in process: the
// HTTP client Istio's authenticator uses is given a transport that serves them for that one origin and
// refuses every other URL. Every token is still checked by Istio's code: signature, issuer, expiry,
// audience, subject.
//
// Once it serves, it prints one JSON line on stdout, {"msg":"istio-ca ready","address":"127.0.0.1:…"};
// Istio's own log goes to stderr. SIGTERM or SIGINT stops it.
package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	meshconfig "istio.io/api/mesh/v1alpha1"
	"istio.io/api/security/v1beta1"
	istiogrpc "istio.io/istio/pilot/pkg/grpc"
	"istio.io/istio/pkg/config/mesh"
	istiokeepalive "istio.io/istio/pkg/keepalive"
	"istio.io/istio/pkg/log"
	"istio.io/istio/pkg/security"
	"istio.io/istio/security/pkg/pki/ca"
	caserver "istio.io/istio/security/pkg/server/ca"
	"istio.io/istio/security/pkg/server/ca/authenticate"
)

func main() {
	cacerts := flag.String("cacerts", "", "directory in Istio's cacerts layout: ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem (required unless every file flag is given)")
	caCert := flag.String("ca-cert", "", "the signing certificate (default <cacerts>/ca-cert.pem)")
	caKey := flag.String("ca-key", "", "the signing key (default <cacerts>/ca-key.pem)")
	certChain := flag.String("cert-chain", "", "the signing certificate's chain up to the root (default <cacerts>/cert-chain.pem)")
	rootCert := flag.String("root-cert", "", "the root certificate (default <cacerts>/root-cert.pem)")
	listen := flag.String("listen", "127.0.0.1:0", "address of the gRPC server (TLS); port 0 picks a free one, printed in the ready line")
	jwks := flag.String("jwks", "", "JSON Web Key Set of the token issuer (required)")
	issuer := flag.String("issuer", "https://meshca.local/token-issuer", "the tokens' iss claim")
	audience := flag.String("audience", "istio-ca", "the audience a token must carry (comma-separated for several)")
	trustDomain := flag.String("trust-domain", "cluster.local", "trust domain of the SPIFFE IDs it issues")
	workloadTTL := flag.Duration("workload-cert-ttl", 24*time.Hour, "default certificate lifetime (istiod's DEFAULT_WORKLOAD_CERT_TTL)")
	maxTTL := flag.Duration("max-workload-cert-ttl", 90*24*time.Hour, "longest certificate lifetime a request may ask for (istiod's MAX_WORKLOAD_CERT_TTL)")
	logLevel := flag.String("log-level", "info", "Istio's log level for every scope: debug, info, warn, error or none")
	flag.Parse()

	if err := run(runOptions{
		files: ca.SigningCAFileBundle{
			SigningCertFile: orIn(*caCert, *cacerts, ca.CACertFile),
			SigningKeyFile:  orIn(*caKey, *cacerts, ca.CAPrivateKeyFile),
			CertChainFiles:  []string{orIn(*certChain, *cacerts, ca.CertChainFile)},
			RootCertFile:    orIn(*rootCert, *cacerts, ca.RootCertFile),
		},
		listen: *listen, jwks: *jwks, issuer: *issuer, audiences: strings.Split(*audience, ","),
		trustDomain: *trustDomain, workloadTTL: *workloadTTL, maxTTL: *maxTTL, logLevel: *logLevel,
	}); err != nil {
		fmt.Fprintf(os.Stderr, "istio-ca: %v\n", err)
		os.Exit(1)
	}
}

type runOptions struct {
	files                 ca.SigningCAFileBundle
	listen, jwks, issuer  string
	audiences             []string
	trustDomain, logLevel string
	workloadTTL, maxTTL   time.Duration
}

func orIn(explicit, dir, name string) string {
	if explicit != "" || dir == "" {
		return explicit
	}
	return filepath.Join(dir, name)
}

func run(o runOptions) error {
	for flagName, file := range map[string]string{
		"ca-cert": o.files.SigningCertFile, "ca-key": o.files.SigningKeyFile,
		"cert-chain": o.files.CertChainFiles[0], "root-cert": o.files.RootCertFile,
	} {
		if file == "" {
			return fmt.Errorf("no --%s: give --cacerts DIR (Istio's cacerts layout) or --%s FILE", flagName, flagName)
		}
	}
	if o.jwks == "" {
		return fmt.Errorf("no --jwks: give the token issuer's JSON Web Key Set file")
	}
	logOptions := log.DefaultOptions()
	logOptions.OutputPaths = []string{"stderr"}
	logOptions.SetDefaultOutputLevel(log.OverrideScopeName, levelOf(o.logLevel))
	if err := log.Configure(logOptions); err != nil {
		return fmt.Errorf("configuring Istio's log: %v", err)
	}

	// istiod's plugged-CA path (pilot/pkg/bootstrap's createIstioCA with cacerts mounted).
	caOpts, err := ca.NewPluggedCertIstioCAOptions(o.files, o.workloadTTL, o.maxTTL, 2048)
	if err != nil {
		return fmt.Errorf("the signing bundle: %v", err)
	}
	istioCA, err := ca.NewIstioCA(caOpts)
	if err != nil {
		return fmt.Errorf("Istio's CA: %v", err)
	}

	if err := serveIssuerDocuments(o.issuer, o.jwks); err != nil {
		return err
	}
	meshCfg := mesh.DefaultMeshConfig()
	meshCfg.TrustDomain = o.trustDomain
	jwtAuthn, err := authenticate.NewJwtAuthenticator(&v1beta1.JWTRule{Issuer: o.issuer, Audiences: o.audiences}, fixedMesh{meshCfg})
	if err != nil {
		return fmt.Errorf("Istio's JWT authenticator: %v", err)
	}
	service, err := caserver.New(istioCA, o.workloadTTL, []security.Authenticator{jwtAuthn}, nil)
	if err != nil {
		return fmt.Errorf("Istio's CA service: %v", err)
	}

	// istiod serves with a certificate its own CA signs (its DNS certificate, for the name agents dial
	// by default); so does this, adding the address it listens on.
	host, _, err := net.SplitHostPort(o.listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %v", o.listen, err)
	}
	certPEM, keyPEM, err := istioCA.GenKeyCert([]string{"istiod.istio-system.svc", "localhost", host}, 24*time.Hour, false)
	if err != nil {
		return fmt.Errorf("the serving certificate: %v", err)
	}
	serving, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("the serving certificate: %v", err)
	}
	creds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{serving}, MinVersion: tls.VersionTLS12})
	// istiod's secure gRPC server options: keepalive, stream and message limits, the Prometheus interceptor.
	opts := istiogrpc.ServerOptions(istiokeepalive.DefaultOption(), func(int64) {}, grpcprom.UnaryServerInterceptor)
	server := grpc.NewServer(append(opts, grpc.Creds(creds))...)
	service.Register(server)

	listener, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %v", o.listen, err)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		server.Stop()
	}()
	ready, _ := json.Marshal(map[string]string{"msg": "istio-ca ready", "address": listener.Addr().String()})
	fmt.Println(string(ready))
	return server.Serve(listener)
}

func levelOf(name string) log.Level {
	for level, n := range map[log.Level]string{log.DebugLevel: "debug", log.InfoLevel: "info", log.WarnLevel: "warn", log.ErrorLevel: "error", log.NoneLevel: "none"} {
		if n == name {
			return level
		}
	}
	return log.InfoLevel
}

// fixedMesh is a mesh configuration that never changes: the authenticator only reads its trust domain.
type fixedMesh struct{ cfg *meshconfig.MeshConfig }

func (m fixedMesh) Mesh() *meshconfig.MeshConfig { return m.cfg }
func (m fixedMesh) AddMeshHandler(func()) *mesh.WatcherHandlerRegistration {
	return mesh.NewWatcherHandlerRegistration(func() {})
}
func (m fixedMesh) DeleteMeshHandler(*mesh.WatcherHandlerRegistration) {}

// serveIssuerDocuments makes the default HTTP client (the one go-oidc, under Istio's authenticator,
// fetches with) answer the issuer's discovery document and JWKS from memory, and nothing else.
func serveIssuerDocuments(issuer, jwksFile string) error {
	keys, err := os.ReadFile(jwksFile)
	if err != nil {
		return fmt.Errorf("--jwks: %v", err)
	}
	var set struct {
		Keys []struct {
			Alg string `json:"alg"`
			Kty string `json:"kty"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(keys, &set); err != nil || len(set.Keys) == 0 {
		return fmt.Errorf("--jwks %s: not a JSON Web Key Set with at least one key (%v)", jwksFile, err)
	}
	algs := []string{}
	for _, k := range set.Keys {
		if k.Alg != "" {
			algs = append(algs, k.Alg)
		}
	}
	if len(algs) == 0 {
		return fmt.Errorf("--jwks %s: no key names its \"alg\", so the algorithms to announce are unknown", jwksFile)
	}
	base := strings.TrimSuffix(issuer, "/")
	discovery, _ := json.Marshal(map[string]any{
		"issuer":                                issuer,
		"jwks_uri":                              base + "/jwks.json",
		"id_token_signing_alg_values_supported": algs,
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
	})
	http.DefaultClient.Transport = issuerDocuments{
		base + "/.well-known/openid-configuration": discovery,
		base + "/jwks.json":                        keys,
	}
	return nil
}

type issuerDocuments map[string][]byte

func (d issuerDocuments) RoundTrip(req *http.Request) (*http.Response, error) {
	u := *req.URL
	u.RawQuery, u.Fragment = "", ""
	body, ok := d[u.String()]
	if !ok || req.Method != http.MethodGet {
		return nil, fmt.Errorf("istio-ca serves only its token issuer's documents, not %s %s", req.Method, req.URL)
	}
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": []string{"application/json"}},
		Body:   io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}, nil
}
