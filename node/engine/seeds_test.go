package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/watchnode/watchnode/node/protocol"
)

// Offline, the DNS seeds are asked all at once (each lookup may take its
// whole timeout), their failures are shown, and the next query is
// announced.
func TestSeedsAskedTogetherAndRetried(t *testing.T) {
	seeds := len(protocol.Mainnet.Params().DNSSeeds)
	var mu sync.Mutex
	waiting := 0
	all := make(chan struct{})
	lookup := func(ctx context.Context, host string) ([]string, error) {
		mu.Lock()
		waiting++
		if waiting == seeds {
			close(all)
		}
		mu.Unlock()
		// Every lookup waits for all the others: asked one after
		// another, the first would time out.
		select {
		case <-all:
		case <-ctx.Done():
			return nil, errors.New("asked one at a time")
		}
		return nil, errors.New("no such host")
	}
	r := startEngine(t, Config{Network: protocol.Mainnet, DataDir: t.TempDir(), LookupHost: lookup})
	waitFor(t, "the DNS seeds' failures to be shown", func() bool {
		d := r.e.Snapshot().Status.Discovery
		return strings.Contains(d, "DNS seeds failed") && strings.Contains(d, "asking again in")
	})
	if d := r.e.Snapshot().Status.Discovery; strings.Contains(d, "one at a time") || strings.Count(d, "no such host") != seeds {
		t.Errorf("discovery = %q, want %d seeds failed together", d, seeds)
	}
}
