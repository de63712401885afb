// kstatus computes what Flux, kpt and other rollout tools see for Kubernetes objects: the status
// that sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute gives each one. It reads one object or a
// List as JSON (`kubectl get -o json`) on standard input and prints one JSON line per object:
// {"name": ..., "status": "Current|InProgress|Failed|Terminating|...", "message": ...}.
//
// Built by scripts/tools.sh against the pinned cli-utils, so the tests judge the operator's
// status with kstatus's own code rather than a re-creation of it.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type result struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println(version())
		return
	}
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("reading standard input: %v", err)
	}
	var object unstructured.Unstructured
	if err := object.UnmarshalJSON(input); err != nil {
		fail("standard input is not a Kubernetes object or List: %v", err)
	}
	items := []unstructured.Unstructured{object}
	if object.IsList() {
		list, err := object.ToList()
		if err != nil {
			fail("reading the List: %v", err)
		}
		items = list.Items
	}
	out := json.NewEncoder(os.Stdout)
	for i := range items {
		res, err := status.Compute(&items[i])
		if err != nil {
			fail("computing the status of %s: %v", items[i].GetName(), err)
		}
		if err := out.Encode(result{items[i].GetName(), res.Status.String(), res.Message}); err != nil {
			fail("writing: %v", err)
		}
	}
}

// version is the cli-utils module this binary was built with, as `cli-utils vX.Y.Z`.
func version() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "sigs.k8s.io/cli-utils" {
				return "cli-utils " + dep.Version
			}
		}
	}
	return "cli-utils (unknown)"
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kstatus: "+format+"\n", args...)
	os.Exit(1)
}
