package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// emulation is a running `synchronizer emulate`.
type emulation struct {
	proc *process
	svcs Services
	// associates maps SuperOffice logins and resource names to associate ids.
	associates map[string]int
	// configPath is the configuration it wrote.
	configPath string
}

// accountLine matches emulate's account lines:
// "user 1: SuperOffice USER1 (associate id 3), user1@m365.test, user1@google.test".
var accountLine = regexp.MustCompile(`^(?:user|resource) \d+: SuperOffice (\S+) \(associate id (\d+)\)`)

// startEmulation starts `synchronizer emulate` and reads what it prints until it
// says it is serving.
func startEmulation(ctx context.Context, bin, dir string, users, resources, events int, seed int64) (*emulation, error) {
	cfg := filepath.Join(dir, "emulate.hcl")
	args := []string{"emulate", "-users", strconv.Itoa(users), "-resources", strconv.Itoa(resources),
		"-events", strconv.Itoa(events), "-seed", strconv.FormatInt(seed, 10), "-auto-consent", "-config-out", cfg}
	p, err := startProcess("synchronizer emulate", bin, args, emulateEnv(), filepath.Join(dir, "emulate.log"), true)
	if err != nil {
		return nil, err
	}
	e := &emulation{proc: p, associates: map[string]int{}, configPath: cfg}
	if err := e.readBanner(ctx); err != nil {
		p.stop(5 * time.Second)
		return nil, err
	}
	p.drain()
	return e, nil
}

func (e *emulation) readBanner(ctx context.Context) error {
	// Seeding a thousand accounts takes a while; the banner comes after it.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	first, err := e.proc.nextLine(ctx)
	if err != nil {
		return fmt.Errorf("synchronizer emulate: %w", err)
	}
	if err := json.Unmarshal([]byte(first), &e.svcs); err != nil {
		return fmt.Errorf("synchronizer emulate: the first line is not the services' JSON (%q): %w", shorten(first, 100), err)
	}
	if err := e.svcs.validate(); err != nil {
		return err
	}
	for {
		line, err := e.proc.nextLine(ctx)
		if err != nil {
			return fmt.Errorf("synchronizer emulate: before it served: %w", err)
		}
		if m := accountLine.FindStringSubmatch(line); m != nil {
			id, _ := strconv.Atoi(m[2])
			e.associates[m[1]] = id
		}
		if strings.HasPrefix(line, "Serving until interrupted") {
			return nil
		}
	}
}

func (e *emulation) stop() error { return e.proc.stop(10 * time.Second) }

// emulateEnv is the emulators' environment beyond the benchmark's: they stand
// for services on other machines yet share this one's two cores, so they
// collect garbage less often (GOGC=400) unless GOGC is set.
func emulateEnv() []string {
	if _, set := os.LookupEnv("GOGC"); set {
		return nil
	}
	return []string{"GOGC=400"}
}
