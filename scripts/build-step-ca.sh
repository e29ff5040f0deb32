#!/usr/bin/env bash
# Builds a real step-ca server from Debian's smallstep sources, once, so tests of the step-ca Signer
# run against the genuine article. Debian ships the Go library but no step-ca program, so we supply
# the ~60-line main package ourselves. Prints the binary's path on stdout; everything else on stderr.
# Usage: scripts/build-step-ca.sh        (MESHCA_CACHE_DIR overrides <repo>/.cache)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${MESHCA_CACHE_DIR:-$repo/.cache}/step-ca"
pkgs=(golang-go golang-github-smallstep-certificates-dev)

say() { echo "build-step-ca: $*" >&2; }
die() {
  say "$*"
  exit 1
}
# Exit 3 means "Go or the sources cannot be installed here": tests skip on it, and fail on any other error.
cannot_install() {
  say "$*"
  exit 3
}

pkg_version() { dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null | awk '$3 == "installed" { print $4 }'; }

missing=()
for p in "${pkgs[@]}"; do
  [ -n "$(pkg_version "$p")" ] || missing+=("$p")
done
# Badger's zstd binding is cgo, so the build needs a C compiler too.
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || cannot_install "cannot install ${missing[*]}: apt-get not found (install Go and the smallstep sources by hand)"
  [ "$(id -u)" = 0 ] || cannot_install "cannot install ${missing[*]}: apt-get needs root (run: sudo apt-get install ${missing[*]})"
  say "installing ${missing[*]} with apt-get"
  apt-get update -qq >&2 || cannot_install "apt-get update failed: is Debian's package mirror reachable?"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    cannot_install "apt-get install ${missing[*]} failed: install them by hand, then run this script again"
fi
command -v go >/dev/null 2>&1 || cannot_install "go is still not on PATH after installing golang-go"

# Keyed by both package versions, so an upgrade of either rebuilds rather than reusing a stale binary.
key="$(pkg_version golang-github-smallstep-certificates-dev)+go$(pkg_version golang-go)"
bin="$cache/step-ca"
if [ -x "$bin" ] && [ "$(cat "$cache/version" 2>/dev/null)" = "$key" ]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$cache"
# A lock, so that two test files starting at once build once rather than twice on a 2-core machine.
exec 9>"$cache/.lock"
flock 9
if [ -x "$bin" ] && [ "$(cat "$cache/version" 2>/dev/null)" = "$key" ]; then
  echo "$bin"
  exit 0
fi

gopath="$cache/gopath"
src="$gopath/src/meshca.local/step-ca"
rm -rf "$gopath"
mkdir -p "$src"
# The upstream cmd/step-ca/main.go, reduced: only the software CAS/KMS that tests use, no cloud plugins.
cat >"$src/main.go" <<'EOF'
// Command step-ca is smallstep's CA server, assembled from Debian's library sources for meshca's tests.
package main

import (
	"fmt"
	"os"

	"github.com/smallstep/certificates/commands"
	"github.com/urfave/cli"
	"go.step.sm/cli-utils/command"
	"go.step.sm/cli-utils/command/version"
	"go.step.sm/cli-utils/step"
	"go.step.sm/cli-utils/usage"

	_ "github.com/smallstep/certificates/cas/softcas"
	_ "github.com/smallstep/certificates/cas/stepcas"
	_ "github.com/smallstep/certificates/kms/softkms"
)

func init() {
	step.Set("Smallstep CA", "0.19.0-debian", "N/A")
}

func main() {
	cli.VersionPrinter = func(c *cli.Context) { version.Command(c) }
	cli.AppHelpTemplate = usage.AppHelpTemplate
	cli.CommandHelpTemplate = usage.CommandHelpTemplate
	cli.SubcommandHelpTemplate = usage.SubcommandHelpTemplate
	cli.HelpPrinter = usage.HelpPrinter
	cli.FlagNamePrefixer = usage.FlagNamePrefixer
	cli.FlagStringer = stringifyFlag

	app := cli.NewApp()
	app.Name = commands.AppCommand.Name
	app.HelpName = commands.AppCommand.Name
	app.Version = step.Version()
	app.Usage = commands.AppCommand.Usage
	app.UsageText = commands.AppCommand.UsageText
	app.Action = commands.AppCommand.Action
	app.Commands = command.Retrieve()
	app.Flags = append(commands.AppCommand.Flags, cli.HelpFlag)
	app.Writer = os.Stdout
	app.ErrWriter = os.Stderr

	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func stringifyFlag(f cli.Flag) string {
	return fmt.Sprintf("--%s", f.GetName())
}
EOF

say "building step-ca ($key) into $cache; this takes about a minute the first time"
start=$(date +%s)
(
  cd "$src"
  GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOPROXY=off GOFLAGS= GOCACHE="$cache/gocache" \
    go build -o "$bin.tmp" .
) >&2 || die "go build of step-ca failed (see above); the Debian package may lack a dependency"
mv -f "$bin.tmp" "$bin"
echo "$key" >"$cache/version"
# The compile cache (~120 MB) only speeds up a retry of a failed build; the binary is what we keep.
rm -rf "$cache/gocache" "$gopath"
say "built in $(($(date +%s) - start)) s"
echo "$bin"
