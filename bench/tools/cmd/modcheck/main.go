// Command modcheck checks that Go modules of this repository can be
// published and fetched from outside it. For each module directory given,
// it reports:
//
//   - files the go command would refuse to put in the module's zip: names
//     reserved on Windows ("nul", "con.txt", ...), paths that differ only in
//     case, and the other rules of golang.org/x/mod/zip. It checks the files
//     git tracks in the module (nested modules excluded), which are what the
//     zip of a tagged version holds. One such file makes every version of
//     the module impossible to download.
//   - requirements at version v0.0.0 that a replace directive points to a
//     directory. Replace directives apply only when the module is the main
//     module, inside this repository; for a user who requires the module,
//     the go command looks for that version, which does not exist. A nested
//     module requires the core at the version it is released with (README,
//     Versioning).
//
// Usage:
//
//	modcheck DIR...
//
// Exit status: 0 when every module passes, 1 when one does not, 2 on a
// usage or I/O error.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/zip"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "usage: modcheck DIR...")
		return 2
	}
	status := 0
	for _, dir := range args {
		problems, err := Check(dir)
		if err != nil {
			fmt.Fprintf(stderr, "modcheck: %s: %v\n", dir, err)
			return 2
		}
		for _, p := range problems {
			fmt.Fprintf(stdout, "%s: %s\n", dir, p)
		}
		if len(problems) > 0 {
			status = 1
		}
	}
	return status
}

// Check returns the problems of the module in dir, one line each, or an
// error when dir is not a readable module inside a git work tree.
func Check(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return nil, err
	}
	mf, err := modfile.Parse(filepath.Join(dir, "go.mod"), data, nil)
	if err != nil {
		return nil, err
	}
	problems := unresolvableRequirements(mf)

	files, err := trackedFiles(dir)
	if err != nil {
		return nil, err
	}
	cf, _ := zip.CheckFiles(files) // the error repeats cf.Invalid and cf.SizeError
	for _, fe := range cf.Invalid {
		problems = append(problems, fmt.Sprintf("%s: not allowed in a module zip: %v", fe.Path, fe.Err))
	}
	if cf.SizeError != nil {
		problems = append(problems, cf.SizeError.Error())
	}
	return problems, nil
}

// unresolvableRequirements lists the requirements at v0.0.0 that only a
// replace directive to a directory resolves.
func unresolvableRequirements(mf *modfile.File) []string {
	var problems []string
	for _, req := range mf.Require {
		if req.Mod.Version != "v0.0.0" {
			continue
		}
		for _, rep := range mf.Replace {
			if rep.Old.Path != req.Mod.Path || rep.New.Version != "" ||
				(rep.Old.Version != "" && rep.Old.Version != req.Mod.Version) {
				continue
			}
			problems = append(problems, fmt.Sprintf(
				"go.mod requires %s v0.0.0, which only the replace directive (=> %s) resolves; "+
					"outside this repository replace is ignored and v0.0.0 does not exist: "+
					"require the version this module is released with",
				req.Mod.Path, rep.New.Path))
		}
	}
	return problems
}

// trackedFiles returns the files git tracks under dir, with slash-separated
// paths relative to dir, leaving out files deleted from the work tree.
func trackedFiles(dir string) ([]zip.File, error) {
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var files []zip.File
	for _, name := range strings.Split(string(out), "\x00") {
		if name == "" {
			continue
		}
		f := workFile{dir: dir, path: name}
		if _, err := f.Lstat(); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// workFile is a file of the work tree, named by its slash-separated path
// relative to the module directory, as zip.File wants.
type workFile struct {
	dir, path string
}

func (f workFile) Path() string                 { return f.path }
func (f workFile) Lstat() (fs.FileInfo, error)  { return os.Lstat(f.name()) }
func (f workFile) Open() (io.ReadCloser, error) { return os.Open(f.name()) }
func (f workFile) name() string                 { return filepath.Join(f.dir, filepath.FromSlash(f.path)) }
