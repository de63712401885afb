// argo-health runs an Argo CD resource health check written in Lua with Argo CD's own
// util/lua package (the same VM, sandbox and libraries the application controller uses for
// health.lua scripts configured in argocd-cm's resource.customizations).
//
// Usage:
//
//	argo-health --version
//	argo-health [--open-libs] [--engine] SCRIPT.lua OBJECT.yaml...
//	argo-health [--open-libs] [--engine] --test SCRIPT.lua HEALTH_TEST.yaml
//
// --open-libs  run as with 'health.lua.useOpenLibs: true' in argocd-cm (Argo CD's own
//
//	resource_customizations tests run this way); default is the controller's default
//	(open libraries off: only base, table, package and Argo's safe os).
//
// --engine     go through gitops-engine's health.GetResourceHealth as the controller and
//
//	'argocd admin settings resource-overrides health' do (it answers
//	"Pending deletion" itself for objects with a deletionTimestamp and falls back to
//	built-in checks); default runs the Lua script directly via
//	lua.ResourceHealthOverrides.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/health"
	appv1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	argolua "github.com/argoproj/argo-cd/v3/util/lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

const argoModule = "github.com/argoproj/argo-cd/v3"

type result struct {
	File    string `json:"file"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

type testFile struct {
	Tests []struct {
		InputPath    string               `json:"inputPath"`
		HealthStatus *health.HealthStatus `json:"healthStatus"`
	} `json:"tests"`
}

func argoVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, d := range bi.Deps {
		if d.Path == argoModule {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return "unknown"
}

func loadObject(path string) (*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	obj := map[string]any{}
	if err := yaml.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(obj) == 0 {
		return nil, fmt.Errorf("%s: empty object", path)
	}
	return &unstructured.Unstructured{Object: obj}, nil
}

type checker struct {
	script   string
	openLibs bool
	engine   bool
}

func (c checker) health(obj *unstructured.Unstructured) (*health.HealthStatus, error) {
	// Exactly as an argocd-cm resource.customizations.health.<group_kind> entry is looked up.
	overrides := argolua.ResourceHealthOverrides{
		argolua.GetConfigMapKey(obj.GroupVersionKind()): appv1.ResourceOverride{
			HealthLua:   c.script,
			UseOpenLibs: c.openLibs,
		},
	}
	if c.engine {
		return health.GetResourceHealth(obj, overrides)
	}
	return overrides.GetResourceHealth(obj)
}

func (c checker) run(path string) (result, error) {
	obj, err := loadObject(path)
	if err != nil {
		return result{}, err
	}
	hs, err := c.health(obj)
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", path, err)
	}
	if hs == nil {
		return result{}, fmt.Errorf("%s: no health status (script returned nil or no script applies)", path)
	}
	return result{File: path, Status: string(hs.Status), Message: hs.Message}, nil
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "argo-health: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	version := flag.Bool("version", false, "print the Argo CD version built in")
	openLibs := flag.Bool("open-libs", false, "enable Lua open libraries (health.lua.useOpenLibs)")
	engine := flag.Bool("engine", false, "go through gitops-engine health.GetResourceHealth")
	test := flag.Bool("test", false, "SCRIPT.lua HEALTH_TEST.yaml: check every case of an Argo-style health_test.yaml")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: argo-health --version\n       argo-health [flags] SCRIPT.lua OBJECT.yaml...\n       argo-health [flags] --test SCRIPT.lua HEALTH_TEST.yaml\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *version {
		fmt.Printf("argo-cd %s\n", argoVersion())
		return
	}
	args := flag.Args()
	if len(args) < 2 {
		flag.Usage()
		os.Exit(2)
	}
	script, err := os.ReadFile(args[0])
	if err != nil {
		fail("%v", err)
	}
	c := checker{script: string(script), openLibs: *openLibs, engine: *engine}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)

	if !*test {
		for _, p := range args[1:] {
			r, err := c.run(p)
			if err != nil {
				fail("%v", err)
			}
			if err := enc.Encode(r); err != nil {
				fail("%v", err)
			}
		}
		return
	}

	if len(args) != 2 {
		fail("--test takes SCRIPT.lua HEALTH_TEST.yaml")
	}
	data, err := os.ReadFile(args[1])
	if err != nil {
		fail("%v", err)
	}
	var tf testFile
	if err := yaml.UnmarshalStrict(data, &tf); err != nil {
		fail("%s: %v", args[1], err)
	}
	if len(tf.Tests) == 0 {
		fail("%s: no tests", args[1])
	}
	dir := filepath.Dir(args[1])
	var mismatches []string
	passed := 0
	for _, tc := range tf.Tests {
		p := filepath.Join(dir, tc.InputPath)
		r, err := c.run(p)
		if err != nil {
			mismatches = append(mismatches, fmt.Sprintf("%s: error: %v", tc.InputPath, err))
			fmt.Fprintf(os.Stderr, "FAIL %s: %v\n", tc.InputPath, err)
			continue
		}
		want := tc.HealthStatus
		if want == nil {
			want = &health.HealthStatus{}
		}
		if r.Status != string(want.Status) || r.Message != want.Message {
			m := fmt.Sprintf("%s:\n  want %s %q\n  got  %s %q", tc.InputPath, want.Status, want.Message, r.Status, r.Message)
			mismatches = append(mismatches, m)
			fmt.Printf("FAIL %s\n", m)
			continue
		}
		passed++
		fmt.Printf("ok   %s: %s %q\n", tc.InputPath, r.Status, r.Message)
	}
	fmt.Printf("%d passed, %d failed\n", passed, len(mismatches))
	if len(mismatches) > 0 {
		fmt.Fprintf(os.Stderr, "argo-health: %d mismatch(es):\n", len(mismatches))
		for _, m := range mismatches {
			fmt.Fprintln(os.Stderr, m)
		}
		os.Exit(1)
	}
}
