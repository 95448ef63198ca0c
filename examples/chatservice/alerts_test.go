package main

import (
	"context"
	"log/slog"
	"maps"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore/redistest"
	"github.com/prometheus/client_golang/prometheus"
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

// TestAlertMetricsExist checks, for each alerting rule, that every metric
// and route it names is exported by the service as it runs, with the
// memory store and with -redis (the registries openStore and newAPI
// build), so that no rule waits silently on a series that never comes:
// each rule applies to the modes listed here, and in them every name it
// uses is exported. A rule that fits neither mode, or a mode that loses
// a metric, fails here.
func TestAlertMetricsExist(t *testing.T) {
	const memory, redis = "memory", "redis"
	modes := map[string][]string{ // alert -> the modes whose series it reads
		// With -redis, promredis.NewStatsCollector exports the Redis
		// store's counters with the resilient wrapper's rejections added
		// (TestRejectionsCounted).
		"ChatringRejectionSpike":       {memory, redis},
		"ChatringMemoryNearLimit":      {memory},
		"ChatringConversationsNearMax": {memory},
		"ChatringConversationsEvicted": {memory},
		"ChatringBreakerOpen":          {redis},
		"ChatringRedisErrors":          {redis},
		"ChatringOutboxFilling":        {redis},
		"ChatringDegradedReads":        {redis},
		"ChatserviceUnavailable":       {memory, redis},
		"ChatserviceClientsGivingUp":   {memory, redis},
		"ChatserviceInternalErrors":    {memory, redis},
		"ChatserviceSlowAppends":       {memory, redis},
	}
	rules, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	exprs := map[string]string{} // alert -> its lines without comments
	alert := ""
	for line := range strings.Lines(string(rules)) {
		trimmed := strings.TrimSpace(line)
		if name, ok := strings.CutPrefix(trimmed, "- alert: "); ok {
			alert = name
		} else if alert != "" && !strings.HasPrefix(trimmed, "#") {
			exprs[alert] += line
		}
	}
	if len(exprs) != len(modes) {
		t.Errorf("%s has %d alerts, the test knows of %d: %v", alertsFile, len(exprs), len(modes), slices.Sorted(maps.Keys(exprs)))
	}

	exported := map[string]map[string]bool{memory: exportedNames(t, ""), redis: exportedNames(t, deadRedis(t))}
	names := regexp.MustCompile(`\b(?:chatring|chatservice|go)_[a-z0-9_]+\b`)
	routes := regexp.MustCompile(`route="([^"]+)"`)
	for alert, expr := range exprs {
		if len(modes[alert]) == 0 {
			t.Errorf("%s: the test does not know which store it applies to", alert)
		}
		used := names.FindAllString(expr, -1)
		if len(used) == 0 {
			t.Errorf("%s: found no metric name in it", alert)
		}
		for _, m := range routes.FindAllStringSubmatch(expr, -1) {
			used = append(used, "route "+m[1])
		}
		used = append(used, labelValuesUsed(expr)...)
		for _, mode := range modes[alert] {
			for _, name := range used {
				if !exported[mode][name] {
					t.Errorf("%s names %s, which the service does not export with the %s store", alert, name, mode)
				}
			}
		}
	}
}

// labelValuesUsed returns, as "name{label=value}", the label values that
// expr's selectors of chatring_* metrics match on, with =, !=, and with =~
// and !~ when the regular expression is an alternation of literal values
// (each of them). chatring's collectors export every value of their labels
// from the start, so each must be one they export: a value they do not
// (a typo, a state or reason renamed) makes a positive matcher match
// nothing and a negative one filter nothing, and the rule's unit tests,
// on synthetic series, do not see it.
func labelValuesUsed(expr string) []string {
	selectors := regexp.MustCompile(`\b(chatring_[a-z0-9_]+)\{([^}]*)\}`)
	matchers := regexp.MustCompile(`(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	var used []string
	for _, sel := range selectors.FindAllStringSubmatch(expr, -1) {
		for _, m := range matchers.FindAllStringSubmatch(sel[2], -1) {
			values := []string{m[3]}
			if strings.HasSuffix(m[2], "~") {
				values = strings.Split(m[3], "|")
			}
			for _, v := range values {
				if v != "" && regexp.QuoteMeta(v) == v {
					used = append(used, sel[1]+"{"+m[1]+"="+v+"}")
				}
			}
		}
	}
	return used
}

// deadRedis returns an address where no Redis listens.
func deadRedis(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// exportedNames returns the names the service's /metrics serves with the
// store openStore opens for redisAddr ("": the memory store), after one
// append (which, with a Redis that does not answer, fails): every
// family, a histogram's _bucket, _sum and _count, and "route R" for each
// route label.
func exportedNames(t *testing.T, redisAddr string) map[string]bool {
	log := slog.New(slog.DiscardHandler)
	store, collectors, err := openStore(chatring.Config{}, redisAddr, log)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close(context.Background())
	reg := newRegistry(collectors...)
	a := newAPI(store, chatring.DefaultMaxMessageBytes, log, reg)
	a.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/conversations/c/messages",
		strings.NewReader(`{"role":"user","content":"hi"}`)))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, f := range families {
		exported[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				exported[f.GetName()+suffix] = true
			}
		}
		for _, m := range f.GetMetric() {
			if r := labelValue(m, "route"); r != "" {
				exported["route "+r] = true
			}
			for _, l := range m.GetLabel() {
				exported[f.GetName()+"{"+l.GetName()+"="+l.GetValue()+"}"] = true
			}
		}
	}
	return exported
}

// TestRejectionsCounted posts a valid and an invalid message to the
// service with each store and reads the message counters from /metrics'
// registry: both stores count both. With -redis the invalid message is
// refused by the resilient wrapper in front of the Redis store, and the
// Redis store's Stats collector adds the wrapper's rejections
// (promexport.WithRejectionsOf), so that ChatringRejectionSpike reads
// either store.
func TestRejectionsCounted(t *testing.T) {
	for _, mode := range []string{"memory", "redis"} {
		t.Run("store="+mode, func(t *testing.T) {
			addr := ""
			if mode == "redis" {
				redistest.Require(t)
				addr = redistest.NewServer(t).Addr
			}
			log := slog.New(slog.DiscardHandler)
			store, collectors, err := openStore(chatring.Config{}, addr, log)
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close(context.Background())
			reg := newRegistry(collectors...)
			a := newAPI(store, chatring.DefaultMaxMessageBytes, log, reg)
			for body, code := range map[string]int{
				`{"role":"user","content":"hi"}`:  201,
				`{"role":"robot","content":"hi"}`: 400,
			} {
				w := httptest.NewRecorder()
				a.ServeHTTP(w, httptest.NewRequest("POST", "/conversations/c/messages", strings.NewReader(body)))
				if w.Code != code {
					t.Fatalf("POST %s: %d, want %d", body, w.Code, code)
				}
			}
			appended := counterOf(t, reg, "chatring_messages_appended_total", "role", "user")
			rejected := counterOf(t, reg, "chatring_messages_rejected_total", "reason", "invalid_role")
			if appended != 1 || rejected != 1 {
				t.Errorf("appended{role=user} %v, rejected{reason=invalid_role} %v; want 1 and 1", appended, rejected)
			}
		})
	}
}

// counterOf returns the value of the counter name{label="value"} that
// reg gathers, failing the test when there is none.
func counterOf(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			if f.GetName() == name && labelValue(m, label) == value {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no series %s{%s=%q}", name, label, value)
	return 0
}
