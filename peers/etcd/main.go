// Command etcd runs a one-member etcd server on loopback for the tests' Kubernetes API server.
//
// Debian's etcd (3.4) is older than kube-apiserver 1.36 supports, so this peer embeds the pinned
// go.etcd.io/etcd/server/v3 instead. Once it serves clients it prints one JSON line on stdout,
// {"msg":"etcd ready",…} (etcd's own log is JSON on stderr too; the harness waits for that line, not
// for a fixed time), and it stops cleanly on SIGTERM or SIGINT, so a later start reopens its data.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	dataDir := flag.String("data-dir", "", "directory of the member's data (required; reopened on restart)")
	clientURL := flag.String("listen-client-url", "http://127.0.0.1:2379", "URL clients (kube-apiserver) connect to")
	peerURL := flag.String("listen-peer-url", "http://127.0.0.1:2380", "URL of the member's raft port (no other member joins)")
	name := flag.String("name", "meshca-test", "member name")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error (written to stderr)")
	noFsync := flag.Bool("unsafe-no-fsync", false, "skip fsync: faster on slow disks, loses data on a machine crash (tests only)")
	// etcd's own flag names; the defaults are etcd's. A lone member elects itself after one election
	// timeout, so a test passes short ones to be ready sooner.
	heartbeat := flag.Uint("heartbeat-interval", 100, "milliseconds between raft heartbeats")
	election := flag.Uint("election-timeout", 1000, "milliseconds before a member without a leader campaigns")
	readyTimeout := flag.Duration("ready-timeout", 60*time.Second, "give up if not serving within this time")
	flag.Parse()
	if *dataDir == "" {
		fail("--data-dir is required")
	}

	cfg := embed.NewConfig()
	cfg.Name = *name
	cfg.Dir = *dataDir
	cfg.LogLevel = *logLevel
	cfg.LogOutputs = []string{"stderr"}
	cfg.UnsafeNoFsync = *noFsync
	cfg.TickMs, cfg.ElectionMs = *heartbeat, *election
	client := parseURL("--listen-client-url", *clientURL)
	peer := parseURL("--listen-peer-url", *peerURL)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)

	// Signals are taken before the server starts, so a stop sent during start-up still closes it cleanly.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)

	server, err := embed.StartEtcd(cfg)
	if err != nil {
		fail(fmt.Sprintf("could not start: %v", err))
	}
	select {
	case <-server.Server.ReadyNotify():
		say("etcd ready", client.String(), cfg.Dir)
	case <-time.After(*readyTimeout):
		server.Close()
		fail(fmt.Sprintf("not ready after %s", *readyTimeout))
	case sig := <-signals:
		server.Close()
		say("etcd stopped by "+sig.String()+" before it was ready", client.String(), cfg.Dir)
		return
	}

	select {
	case sig := <-signals:
		server.Close()
		say("etcd stopped by "+sig.String(), client.String(), cfg.Dir)
	case err := <-server.Err():
		server.Close()
		fail(fmt.Sprintf("server failed: %v", err))
	}
}

func parseURL(flagName, raw string) url.URL {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		fail(fmt.Sprintf("%s %q is not a URL like http://127.0.0.1:2379", flagName, raw))
	}
	return *u
}

func say(message, client, dataDir string) {
	line, _ := json.Marshal(map[string]string{"msg": message, "client": client, "dataDir": dataDir})
	fmt.Println(string(line))
}

func fail(message string) {
	fmt.Fprintf(os.Stderr, "etcd: %s\n", message)
	os.Exit(1)
}
