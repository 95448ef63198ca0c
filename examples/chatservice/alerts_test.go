package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/promexport"
	"github.com/chatring/chatring/promexport/promredis"
	"github.com/chatring/chatring/promexport/promresilient"
	"github.com/chatring/chatring/resilient"
)

// The alerting rules shipped in deploy/ for this service.
const (
	alertsFile     = "../../deploy/alerts.yml"
	alertsTestFile = "../../deploy/alerts_test.yml"
)

// TestAlertRules checks deploy/alerts.yml with promtool and runs its unit
// tests. Without promtool (the Debian package prometheus has it) the test
// skips, unless CHATRING_REQUIRE_PROMTOOL is set, as .ci/run sets it: in
// CI a missing promtool is a failure.
func TestAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CHATRING_REQUIRE_PROMTOOL") != "" {
			t.Fatalf("promtool not found and CHATRING_REQUIRE_PROMTOOL is set: %v", err)
		}
		t.Skip("promtool not found (apt-get install prometheus); CI requires it")
	}
	for _, args := range [][]string{
		{"check", "rules", alertsFile},
		{"test", "rules", alertsTestFile},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestAlertMetricsExist checks that every metric and every route the
// alerting rules name is one the service exports, so that no rule waits
// silently on a series that never comes. The rules on the Redis store and
// the resilient wrapper name the metrics of their collectors
// (promexport/promredis and promexport/promresilient), registered here
// beside the service's own.
func TestAlertMetricsExist(t *testing.T) {
	rules, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var exprs strings.Builder // the rules without comments
	for line := range strings.Lines(string(rules)) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			exprs.WriteString(line)
		}
	}

	store, err := chatring.NewMemoryStore(chatring.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close(context.Background())
	reg := newRegistry(promexport.NewMemoryStoreCollector(store))
	wrapped, err := resilient.New(store, resilient.WithMirror(0)) // no outbox, no mirror: nothing to close
	if err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(promredis.New(), promresilient.New(wrapped))
	a := newAPI(store, chatring.DefaultMaxMessageBytes, slog.New(slog.DiscardHandler), reg)
	// One append, so that the HTTP metrics have a series; the alerts
	// name its route.
	a.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/conversations/c/messages",
		strings.NewReader(`{"role":"user","content":"hi"}`)))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	routes := map[string]bool{}
	for _, f := range families {
		exported[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				exported[f.GetName()+suffix] = true
			}
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" {
					routes[l.GetValue()] = true
				}
			}
		}
	}

	names := regexp.MustCompile(`\b(?:chatring|chatservice|go)_[a-z0-9_]+\b`).FindAllString(exprs.String(), -1)
	if len(names) == 0 {
		t.Fatal("found no metric names in the rules")
	}
	for _, name := range names {
		if !exported[name] {
			t.Errorf("%s names %s, which the service does not export", alertsFile, name)
		}
	}
	for _, m := range regexp.MustCompile(`route="([^"]+)"`).FindAllStringSubmatch(exprs.String(), -1) {
		if !routes[m[1]] {
			t.Errorf("%s names route %q, which is not one of the service's", alertsFile, m[1])
		}
	}
}
