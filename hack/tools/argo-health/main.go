// Command argo-health runs Argo CD resource health checks (Lua) the way Argo CD runs those given in
// argocd-cm as resource.customizations.health.<group>_<kind>: gopher-lua, only the package, base and
// table libraries (no string, math or os), the object as the global `obj`, one second at most, and a
// returned table whose `status` is one of Argo CD's health codes.
//
//	argo-health test DIR...     runs DIR/health_test.yaml (Argo CD's layout: tests[].inputPath and
//	                            tests[].healthStatus) against DIR/health.lua; exit 1 on a mismatch
//	argo-health eval SCRIPT     reads one JSON object per line on stdin and prints one JSON line
//	                            {"status": ..., "message": ...} (or {"error": ...}) per object
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

// health is what a health script returns.
type health struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

var codes = map[string]bool{"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true}

// toLua turns a decoded JSON value into Lua values: objects and arrays become tables (arrays 1-based).
func toLua(l *lua.LState, v interface{}) lua.LValue {
	switch x := v.(type) {
	case bool:
		return lua.LBool(x)
	case float64:
		return lua.LNumber(x)
	case json.Number:
		return lua.LString(string(x))
	case string:
		return lua.LString(x)
	case []interface{}:
		t := l.CreateTable(len(x), 0)
		for _, item := range x {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]interface{}:
		t := l.CreateTable(0, len(x))
		for k, item := range x {
			t.RawSetString(k, toLua(l, item))
		}
		return t
	}
	return lua.LNil
}

func run(script string, obj map[string]interface{}) (health, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for name, open := range map[string]lua.LGFunction{lua.LoadLibName: lua.OpenPackage, lua.BaseLibName: lua.OpenBase, lua.TabLibName: lua.OpenTable} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(open), NRet: 0, Protect: true}, lua.LString(name)); err != nil {
			return health{}, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return health{}, err
	}
	table, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return health{}, fmt.Errorf("expect table output from Lua script, not %s", l.Get(-1).Type())
	}
	out := health{Status: lua.LVAsString(table.RawGetString("status")), Message: lua.LVAsString(table.RawGetString("message"))}
	if !codes[out.Status] {
		return health{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
	}
	return out, nil
}

func readObject(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	obj := map[string]interface{}{}
	return obj, json.Unmarshal(js, &obj)
}

type testFile struct {
	Tests []struct {
		HealthStatus health `json:"healthStatus"`
		InputPath    string `json:"inputPath"`
	} `json:"tests"`
}

func test(dirs []string) int {
	failed, passed := 0, 0
	for _, dir := range dirs {
		script, err := os.ReadFile(filepath.Join(dir, "health.lua"))
		if err != nil {
			fmt.Println("FAIL", err)
			failed++
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, "health_test.yaml"))
		var tests testFile
		if err == nil {
			err = yaml.Unmarshal(raw, &tests)
		}
		if err != nil || len(tests.Tests) == 0 {
			fmt.Println("FAIL", dir, "health_test.yaml:", err, "(no tests?)")
			failed++
			continue
		}
		for _, tc := range tests.Tests {
			name := filepath.Join(dir, tc.InputPath)
			obj, err := readObject(name)
			var got health
			if err == nil {
				got, err = run(string(script), obj)
			}
			switch {
			case err != nil:
				fmt.Printf("FAIL %s: %v\n", name, err)
				failed++
			case got != tc.HealthStatus:
				fmt.Printf("FAIL %s: got %s %q, want %s %q\n", name, got.Status, got.Message, tc.HealthStatus.Status, tc.HealthStatus.Message)
				failed++
			default:
				fmt.Printf("PASS %s: %s\n", name, got.Status)
				passed++
			}
		}
	}
	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

func eval(path string) int {
	script, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 1<<20), 16<<20)
	enc := json.NewEncoder(os.Stdout)
	for in.Scan() {
		if len(in.Bytes()) == 0 {
			continue
		}
		obj := map[string]interface{}{}
		out := health{}
		if err := json.Unmarshal(in.Bytes(), &obj); err != nil {
			out.Error = err.Error()
		} else if out, err = run(string(script), obj); err != nil {
			out = health{Error: err.Error()}
		}
		if err := enc.Encode(out); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

func main() {
	if len(os.Args) >= 3 && os.Args[1] == "test" {
		os.Exit(test(os.Args[2:]))
	}
	if len(os.Args) == 3 && os.Args[1] == "eval" {
		os.Exit(eval(os.Args[2]))
	}
	fmt.Fprintln(os.Stderr, "usage: argo-health test DIR... | argo-health eval SCRIPT < objects.jsonl")
	os.Exit(2)
}
