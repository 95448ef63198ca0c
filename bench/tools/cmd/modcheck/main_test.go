package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// repo makes a git work tree in a temporary directory with the given files
// (path: content), all of them added to the index, and returns its path.
func repo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "init", "-q")
	git(t, dir, "add", ".")
	return dir
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

const goMod = "module example.com/m\n\ngo 1.26.0\n"

func TestCheckFileNames(t *testing.T) {
	dir := repo(t, map[string]string{
		"go.mod":                goMod,
		"m.go":                  "package m\n",
		"testdata/fuzz/F/nul":   "go test fuzz v1\n",
		"testdata/fuzz/F/nul_1": "go test fuzz v1\n",
		"x/Doc.go":              "package x\n",
		"x/doc.go":              "package x\n",
		"gone.go":               "package m\n",
		// A nested module's files are not in this module's zip.
		"sub/go.mod": "module example.com/m/sub\n\ngo 1.26.0\n",
		"sub/con.go": "package sub\n",
	})
	// Neither untracked files nor tracked files deleted from the work tree
	// are in the zip of a tagged version.
	if err := os.WriteFile(filepath.Join(dir, "aux"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "gone.go")); err != nil {
		t.Fatal(err)
	}

	problems, err := Check(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 2 {
		t.Fatalf("got %d problems, want 2 (nul, and Doc.go/doc.go):\n%s", len(problems), strings.Join(problems, "\n"))
	}
	if !strings.HasPrefix(problems[0], "testdata/fuzz/F/nul: ") && !strings.HasPrefix(problems[1], "testdata/fuzz/F/nul: ") {
		t.Errorf("testdata/fuzz/F/nul not reported:\n%s", strings.Join(problems, "\n"))
	}
	if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, "case-insensitive file name collision") }) {
		t.Errorf("x/Doc.go and x/doc.go not reported:\n%s", strings.Join(problems, "\n"))
	}

	problems, err = Check(filepath.Join(dir, "sub"))
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || !strings.HasPrefix(problems[0], "con.go: ") {
		t.Errorf("nested module: got %q, want one problem with con.go", problems)
	}
}

func TestCheckReplacedRequirements(t *testing.T) {
	for _, tc := range []struct {
		name, gomod string
		want        int // problems
	}{
		{"v0.0.0 replaced by a directory", "require example.com/core v0.0.0\n\nreplace example.com/core => ../core\n", 1},
		{"v0.0.0 replaced by a directory, version-specific", "require example.com/core v0.0.0\n\nreplace example.com/core v0.0.0 => ../core\n", 1},
		{"a released version replaced by a directory", "require example.com/core v0.1.0\n\nreplace example.com/core => ../core\n", 0},
		{"v0.0.0 replaced by a module version", "require example.com/core v0.0.0\n\nreplace example.com/core => example.com/fork v1.0.0\n", 0},
		{"another version's replacement", "require example.com/core v0.0.0\n\nreplace example.com/core v0.2.0 => ../core\n", 0},
		{"no replace", "require example.com/core v0.0.0\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := repo(t, map[string]string{"go.mod": goMod + "\n" + tc.gomod, "m.go": "package m\n"})
			problems, err := Check(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) != tc.want {
				t.Fatalf("got %d problems, want %d:\n%s", len(problems), tc.want, strings.Join(problems, "\n"))
			}
			if tc.want > 0 && !strings.Contains(problems[0], "example.com/core v0.0.0") {
				t.Errorf("problem does not name the requirement: %s", problems[0])
			}
		})
	}
}

func TestRun(t *testing.T) {
	good := repo(t, map[string]string{"go.mod": goMod, "m.go": "package m\n"})
	bad := repo(t, map[string]string{"go.mod": goMod, "nul.go": "package m\n"})
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		stdout string
	}{
		{"no arguments", nil, 2, ""},
		{"a flag", []string{"-h"}, 2, ""},
		{"not a module", []string{t.TempDir()}, 2, ""},
		{"good", []string{good}, 0, ""},
		{"bad", []string{good, bad}, 1, bad + ": nul.go: not allowed in a module zip: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := run(tc.args, &stdout, &stderr); got != tc.status {
				t.Errorf("status %d, want %d; stderr: %s", got, tc.status, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), tc.stdout) || (tc.stdout == "" && stdout.Len() > 0) {
				t.Errorf("stdout %q, want it to start with %q", stdout.String(), tc.stdout)
			}
			if tc.status == 2 && stderr.Len() == 0 {
				t.Error("status 2 without a message on stderr")
			}
		})
	}
}
