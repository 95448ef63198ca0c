package redistest

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a Redis Cluster of masters without replicas, each a Server,
// with the 16 384 hash slots spread over them by redis-cli.
type Cluster struct {
	// Servers are the masters, in the order their addresses were given to
	// redis-cli.
	Servers []*Server
}

// Addrs returns the masters' addresses, for redis.ClusterOptions.Addrs.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		addrs[i] = s.Addr
	}
	return addrs
}

// StartCluster starts masters (at least 3, as redis-cli requires) servers
// in cluster mode, each with its cluster bus on a free port of its own,
// joins them with `redis-cli --cluster create`, and waits until every node
// reports cluster_state:ok. nodeTimeout is the cluster-node-timeout (how
// long a silent node takes to be marked failed); 0 means 5 seconds. args
// are extra redis-server options for every node.
func StartCluster(ctx context.Context, masters int, nodeTimeout time.Duration, args ...string) (*Cluster, error) {
	if masters < 3 {
		return nil, fmt.Errorf("redistest: a cluster needs at least 3 masters, not %d", masters)
	}
	if nodeTimeout <= 0 {
		nodeTimeout = 5 * time.Second
	}
	c := &Cluster{}
	for range masters {
		bus, err := freePort()
		if err != nil {
			c.Stop()
			return nil, err
		}
		s, err := StartServer(ctx, append([]string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.FormatInt(nodeTimeout.Milliseconds(), 10),
			"--cluster-port", strconv.Itoa(bus),
		}, args...)...)
		if err != nil {
			c.Stop()
			return nil, err
		}
		c.Servers = append(c.Servers, s)
	}
	cli := append([]string{"--cluster", "create"}, c.Addrs()...)
	cli = append(cli, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.CommandContext(ctx, "redis-cli", cli...).CombinedOutput()
	if err != nil {
		c.Stop()
		return nil, fmt.Errorf("redistest: redis-cli %s: %w\n%s", strings.Join(cli, " "), err, out)
	}
	if err := c.waitOK(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// waitOK waits, for up to 30 seconds, until every node reports
// cluster_state:ok and knows all the masters.
func (c *Cluster) waitOK(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	want := fmt.Sprintf("cluster_known_nodes:%d", len(c.Servers))
	for {
		var err error
		for _, s := range c.Servers {
			var info string
			info, err = s.Command(ctx, "CLUSTER", "INFO")
			if err == nil && !(strings.Contains(info, "cluster_state:ok") && strings.Contains(info, want)) {
				err = fmt.Errorf("%s not ready", s.Addr)
			}
			if err != nil {
				break
			}
		}
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: cluster %v: %w (last: %v)", c.Addrs(), ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop stops every node.
func (c *Cluster) Stop() error {
	var errs []error
	for _, s := range c.Servers {
		errs = append(errs, s.Stop())
	}
	return errors.Join(errs...)
}

// NewCluster starts a cluster of masters for tb (see Require and
// StartCluster, with the default node timeout) and stops it when tb ends.
func NewCluster(tb testing.TB, masters int) *Cluster {
	tb.Helper()
	Require(tb)
	c, err := StartCluster(context.Background(), masters, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Stop() })
	return c
}
