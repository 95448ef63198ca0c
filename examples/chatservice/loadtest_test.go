package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// loadtestStubs are the commands loadtest/run.sh runs, as scripts: go
// builds a fake service that logs its address and exits with
// $STUB_EXIT on SIGTERM, wrk and curl print what the real ones would.
var loadtestStubs = map[string]string{
	"go": `#!/bin/sh
# go build -o OUT .
cat >"$3" <<'EOS'
#!/bin/sh
trap 'exit ${STUB_EXIT:-0}' TERM
echo '{"msg":"chatservice: listening","addr":"127.0.0.1:9"}' >&2
while :; do sleep 0.05; done
EOS
chmod +x "$3"
`,
	"wrk": `#!/bin/sh
echo "  1000 requests in 1.00s, 100.00KB read"
`,
	"curl": `#!/bin/sh
echo "process_cpu_seconds_total $(date +%s.%N)"
echo "chatring_messages_appended_total{role=\"user\"} ${STUB_APPENDED:-1000}"
`,
}

// writeStubs writes loadtestStubs to a new directory, which it returns.
func writeStubs(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	for name, script := range loadtestStubs {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

// TestLoadtestScriptNoAppend: when the store appended nothing (every
// request refused), run.sh still says so, stops the service and exits
// with its status: the CPU time per append, a division by the appended
// count, ended it with awk's error, without the shutdown.
func TestLoadtestScriptNoAppend(t *testing.T) {
	bin := writeStubs(t)
	cmd := exec.Command("bash", "loadtest/run.sh", "1s", "1", "1")
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "STUB_APPENDED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("run.sh: %v:\n%s", err, out)
	}
	for _, want := range []string{"# store appended 0 messages", "# CPU per append: nothing appended", "# stopped: exit 0"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("run.sh's output lacks %q:\n%s", want, out)
		}
	}
}

// TestLoadtestScriptExit runs loadtest/run.sh with stubs of go, wrk and
// curl (so that it runs in a moment, without wrk): it reports the
// service's exit status after SIGTERM, and exits with it, also when it
// is not 0 (a shutdown that failed).
func TestLoadtestScriptExit(t *testing.T) {
	bin := writeStubs(t)
	for _, exit := range []string{"0", "3"} {
		t.Run("exit="+exit, func(t *testing.T) {
			cmd := exec.Command("bash", "loadtest/run.sh", "1s", "1", "1")
			cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "STUB_EXIT="+exit)
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := errors.AsType[*exec.ExitError](err); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(out)); !strings.HasSuffix(got, "# stopped: exit "+exit) {
				t.Errorf("run.sh's output does not end with the service's exit status %s:\n%s", exit, out)
			}
			if strconv.Itoa(code) != exit {
				t.Errorf("run.sh exited %d, want %s:\n%s", code, exit, out)
			}
			if !strings.Contains(string(out), "# store appended 1000 messages; wrk completed 1000 requests, non-2xx: 0") {
				t.Errorf("run.sh did not report the counts:\n%s", out)
			}
		})
	}
}
