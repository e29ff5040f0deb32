// Command cert-manager-controller runs cert-manager's controllers (v1.21.2, its main module's
// pkg/controller) against an API server: the real issuers, CertificateRequest and
// CertificateSigningRequest controllers, without the webhook, cainjector or leader election.
//
// Why a main of our own: cert-manager's controller binary lives in a nested module
// (cmd/controller, module path github.com/cert-manager/cert-manager/controller-binary) whose path
// does not match its folder, so the Go module proxy cannot serve it at any version. Its controllers
// register themselves in pkg/controller when imported; this file only does the wiring that
// cmd/controller/app does: flags, a context factory, the chosen controllers, informers, Run.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	controllerpkg "github.com/cert-manager/cert-manager/pkg/controller"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"

	// Each import registers its controllers with controllerpkg.Register.
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificatesigningrequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificatesigningrequests/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	// The issuer kinds the ClusterIssuer controller can make ready: CA and self-signed.
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

// The CertificateSigningRequest controllers are alpha: they run only behind cert-manager's gate,
// as in the upstream binary.
const csrGate = "ExperimentalCertificateSigningRequestControllers"

func main() {
	kubeconfig := flag.String("kubeconfig", "", "path to a kubeconfig for the API server")
	clusterResourceNamespace := flag.String("cluster-resource-namespace", "cert-manager", "namespace of the Secrets that ClusterIssuers refer to")
	featureGates := flag.String("feature-gates", "", "cert-manager feature gates, e.g. "+csrGate+"=true")
	leaderElect := flag.Bool("leader-elect", false, "accepted for the upstream flag's sake; only false is supported")
	workers := flag.Int("concurrent-workers", 5, "workers per controller")
	flag.Parse()
	if *leaderElect {
		fail("--leader-elect=true is not supported by this peer; run one controller")
	}
	if *featureGates != "" {
		if err := utilfeature.DefaultMutableFeatureGate.Set(*featureGates); err != nil {
			fail(fmt.Sprintf("--feature-gates: %v", err))
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	factory, err := controllerpkg.NewContextFactory(ctx, controllerpkg.ContextOptions{
		Kubeconfig:         *kubeconfig,
		KubernetesAPIQPS:   50,
		KubernetesAPIBurst: 100,
		IssuerOptions:      controllerpkg.IssuerOptions{ClusterResourceNamespace: *clusterResourceNamespace},
		CertificateOptions: controllerpkg.CertificateOptions{
			CertificateRequestMinimumBackoffDuration: time.Second,
			CertificateRequestMaximumBackoffDuration: 10 * time.Second,
		},
	})
	if err != nil {
		fail(err.Error())
	}

	names := chosenControllers(utilfeature.DefaultFeatureGate.Enabled(csrGate))
	var running sync.WaitGroup
	errs := make(chan error, len(names))
	for _, name := range names {
		iface, err := controllerpkg.Known()[name](factory)
		if err != nil {
			fail(fmt.Sprintf("controller %s: %v", name, err))
		}
		running.Add(1)
		go func() {
			defer running.Done()
			if err := iface.Run(*workers, ctx); err != nil {
				errs <- fmt.Errorf("controller %s: %w", name, err)
			}
		}()
	}

	shared, err := factory.Build()
	if err != nil {
		fail(err.Error())
	}
	shared.KubeSharedInformerFactory.Start(ctx.Done())
	shared.SharedInformerFactory.Start(ctx.Done())
	shared.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())
	// The harness waits for this JSON line.
	ready, _ := json.Marshal(map[string]any{"msg": "cert-manager controllers started", "controllers": names})
	fmt.Fprintf(os.Stderr, "%s\n", ready)

	select {
	case err := <-errs:
		stop()
		running.Wait()
		fail(err.Error())
	case <-ctx.Done():
		running.Wait()
	}
}

// chosenControllers is every registered controller this peer imports, the CSR ones only behind the gate.
func chosenControllers(csrEnabled bool) []string {
	var names []string
	for name := range controllerpkg.Known() {
		if strings.HasPrefix(name, "certificatesigningrequests-") && !csrEnabled {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func fail(message string) {
	fmt.Fprintf(os.Stderr, "cert-manager-controller: %s\n", message)
	os.Exit(1)
}
