package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"synchronizer/daemon/config"
	"synchronizer/daemon/engine"
	"synchronizer/daemon/state"
	"synchronizer/daemon/telemetry"
	"synchronizer/plugins/memory"
	"synchronizer/plugins/sdk"
)

// BenchmarkIdleCycle runs every link of a profile of 500 once, with nothing to
// do, as the daemon's idle cycle does: the runner, the scheduler, the engine
// and the state file (bbolt, with file syncs), over in-memory providers (the
// plugins' own cost and the RPC to them are not in it). Reported per run.
func BenchmarkIdleCycle(b *testing.B) {
	const links = 500
	dir := b.TempDir()
	var blocks strings.Builder
	for i := range links {
		fmt.Fprintf(&blocks, "  user \"u%03d\" {\n    associate = \"A%03d\"\n    mailbox = \"u%03d@example.com\"\n  }\n", i, i, i)
	}
	text := `data_dir = "data"
encryption { key_file = "key" }
superoffice "acme" {
  context_id    = "Cust1"
  client_id     = "c"
  client_secret = "s"
  user_licenses = 1000
}
calendar "memory" "mem" {
  client_id = "calclient"
}
profile "p" {
  superoffice = "acme"
  calendar    = "mem"
  interval    = "1h"
` + blocks.String() + "}\n"
	path := filepath.Join(dir, "c.hcl")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, res := config.Load(path, config.Options{Builtins: []string{config.ProviderSuperOffice, memory.Name}})
	if cfg == nil {
		b.Fatalf("config: %s", res.Error())
	}
	key := make([]byte, state.KeySize)
	cipher, err := state.NewCipher(key, nil)
	if err != nil {
		b.Fatal(err)
	}
	st, err := state.Open(filepath.Join(dir, "data"), state.Options{Cipher: cipher, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	so, cal := memory.New(), memory.New()
	for i := range links {
		at := time.Now().UTC().Truncate(time.Hour).Add(24 * time.Hour)
		for k := range 5 {
			so.CalendarOf(sdk.Target{Instance: "acme", Account: fmt.Sprintf("A%03d", i)}).Put(sdk.Event{Title: fmt.Sprintf("so %d", k), Start: at.Add(time.Duration(k) * time.Hour), End: at.Add(time.Duration(k)*time.Hour + time.Hour), TimeZone: "Europe/Oslo"})
		}
	}
	r, err := New(Options{
		Plugins: func(name string) (sdk.Provider, error) {
			if name == config.ProviderSuperOffice {
				return so, nil
			}
			return cal, nil
		},
		Store: st, SyncStore: st.SyncStore(), Credentials: newFakeCreds(), Activations: newFakeActivations(),
		Metrics: telemetry.New(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clock: stillClock{t: time.Now()}, Rand: rand.New(rand.NewPCG(1, 2)), ConfigureWait: 5 * time.Second,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close(context.Background())
	var allowed []state.LinkID
	for _, l := range cfg.Links() {
		allowed = append(allowed, state.LinkID{Profile: l.Profile, Link: l.Name})
	}
	if err := r.Apply(context.Background(), cfg, allowed); err != nil {
		b.Fatal(err)
	}
	cycle := func() {
		rs, err := r.RunNow(context.Background(), "p", "", engine.RunOptions{})
		if err != nil || len(rs) != links {
			b.Fatalf("%d results, %v", len(rs), err)
		}
		for _, x := range rs {
			if x.Err != nil {
				b.Fatalf("%s: %v", x.Link, x.Err)
			}
		}
	}
	cycle() // the initial sync
	cycle() // its echoes
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		cycle()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*links)/1e3, "µs/run")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*links)/1e3, "cpu-µs/run")
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
