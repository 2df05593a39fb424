package main

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/wssbench/wssbench"

// engine is everything under bench/.
var engine = []string{"bench/driver", "bench/wsconn", "bench/pace", "bench/metrics", "bench/tlsconf", "bench/target", "bench/proxy/builtin", "bench/proxy/external", "bench/listener", "bench/proc", "bench/threshold", "bench/env", "bench/evloop", "bench/fleet", "bench/workload", "bench/capacity"}

// allowed lists, for each package, the project packages it may import
// (directly or not), as DESIGN.md draws them.
var allowed = map[string][]string{
	"bench/wsconn":  {},
	"bench/pace":    {},
	"bench/metrics": {},
	"bench/tlsconf": {},
	"bench/proc":    {},
	// threshold is a leaf: the engine validates expressions with it and
	// reports checks them, so it may import neither.
	"bench/threshold": {},
	"bench/evloop":    {},
	// workload compiles what connections say (templates, expects, roles,
	// stages); it does no I/O and imports nothing of the project.
	"bench/workload": {},
	// capacity is the search's algorithm (which value to probe next); what a
	// probe is, is the caller's.
	"bench/capacity": {},
	"bench/driver":   {"bench/wsconn", "bench/pace", "bench/metrics", "bench/tlsconf", "bench/evloop", "bench/workload"},
	"bench/listener": {},
	"bench/target":   {"bench/wsconn", "bench/tlsconf", "bench/listener"},
	// builtin and external may not import each other: one relays bytes,
	// the other starts programs.
	"bench/proxy/builtin":  {"bench/wsconn", "bench/tlsconf", "bench/listener", "bench/evloop"},
	"bench/proxy/external": {"bench/tlsconf", "bench/proc"},
	// env starts what a run needs; the engine (bench) imports it, never the
	// reverse. It reaches bench/evloop through the built-in proxy.
	"bench/env": {"bench/target", "bench/proxy/builtin", "bench/proxy/external", "bench/listener", "bench/proc", "bench/wsconn", "bench/tlsconf", "bench/evloop"},
	// fleet starts driver processes and holds their barriers; what they
	// measured is merged by bench, which imports fleet.
	"bench/fleet": {"bench/driver", "bench/proc", "bench/wsconn", "bench/pace", "bench/metrics", "bench/tlsconf", "bench/evloop", "bench/workload"},
	"bench":       engine,
	// telemetry exposes a run to Prometheus from the engine's callbacks; the
	// CLI wires it, and nothing under bench imports it.
	"bench/telemetry": append([]string{"bench"}, engine...),
	"scenarios":       append([]string{"bench"}, engine...),
	"reports":         append([]string{"bench"}, engine...),
	// live serves a run's page while it goes: it draws with reports and
	// reads the engine's progress and histograms.
	"reports/live": append([]string{"reports", "bench"}, engine...),
}

// TestImportDirections keeps the picture in DESIGN.md true: nothing under
// bench/ imports reports, scenarios, cmd or pflag, and each package imports
// only what it is allowed to.
func TestImportDirections(t *testing.T) {
	for pkg, ok := range allowed {
		out, err := exec.Command("go", "list", "-deps", module+"/"+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		okSet := map[string]bool{pkg: true}
		for _, o := range ok {
			okSet[o] = true
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.Contains(dep, "spf13/pflag") && strings.HasPrefix(pkg, "bench") {
				t.Errorf("%s imports pflag: flags belong to cmd/", pkg)
			}
			rel, mine := strings.CutPrefix(dep, module+"/")
			if !mine {
				continue
			}
			if !okSet[rel] {
				t.Errorf("%s imports %s, which DESIGN.md does not allow", pkg, rel)
			}
		}
	}
}

// direct lists, for the packages above the engine, the project packages they
// may import themselves: reports reads results and metric names, never the
// environment, the driver or the servers; main only calls cli.
var direct = map[string][]string{
	"reports":          {"bench", "bench/metrics", "bench/threshold"},
	"scenarios":        {"bench", "bench/threshold", "bench/workload"},
	"cmd/wssbench":     {"cmd/wssbench/cli"},
	"reports/live":     {"reports", "bench", "bench/metrics"},
	"cmd/wssbench/cli": {"bench", "bench/capacity", "bench/threshold", "bench/fleet", "bench/proxy/builtin", "bench/target", "bench/tlsconf", "bench/metrics", "bench/telemetry", "reports", "reports/live", "scenarios"},
}

// TestDirectImports keeps the upper floors thin: each imports only the
// packages it names in direct.
func TestDirectImports(t *testing.T) {
	for pkg, ok := range direct {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, module+"/"+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, imp := range strings.Fields(string(out)) {
			rel, mine := strings.CutPrefix(imp, module+"/")
			if mine && !contains(ok, rel) {
				t.Errorf("%s imports %s directly, which DESIGN.md does not allow", pkg, rel)
			}
		}
	}
}

// TestEveryPackageHasARule: a new package must say where it stands.
func TestEveryPackageHasARule(t *testing.T) {
	out, err := exec.Command("go", "list", module+"/...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(out)) {
		rel := strings.TrimPrefix(p, module+"/")
		if _, ok := allowed[rel]; ok {
			continue
		}
		if _, ok := direct[rel]; !ok {
			t.Errorf("package %s has no rule in imports_test.go: add it to allowed (engine) or direct", rel)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
