// Command kstatus prints the kstatus result (sigs.k8s.io/cli-utils status.Compute, as Flux, Helm 4 and
// kubectl-based tooling compute it) of each Kubernetes object it reads: one JSON object per input line
// on stdin, one JSON line per object on stdout: {"status": "Current", "message": "..."} or
// {"error": "..."}. The tests feed it every watch event of an object's life.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type result struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

func compute(line []byte) result {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(line); err != nil {
		return result{Error: fmt.Sprintf("decoding the object: %v", err)}
	}
	res, err := status.Compute(u)
	if err != nil {
		return result{Error: err.Error()}
	}
	return result{Status: res.Status.String(), Message: res.Message}
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 1<<20), 16<<20)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	for in.Scan() {
		if len(in.Bytes()) == 0 {
			continue
		}
		if err := enc.Encode(compute(in.Bytes())); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
