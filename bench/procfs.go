package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// userHZ is the unit of utime and stime in /proc/PID/stat. Linux reports them in
// USER_HZ, which is 100 on every architecture the daemon is built for.
const userHZ = 100

// procInfo is what the benchmark reads about one process.
type procInfo struct {
	PID, PPID int
	Name      string
	// HWM and RSS are VmHWM (peak resident set) and VmRSS in bytes; Anon is
	// RssAnon, the part of RSS that is the process's own memory rather than
	// mapped files (the state file is mapped).
	HWM, RSS, Anon int64
	// CPU is utime+stime.
	CPU time.Duration
}

// procFS reads processes from a /proc tree (a directory of fixtures in tests).
type procFS struct {
	root string
}

// read reads /proc/PID/stat and /proc/PID/status.
func (fs procFS) read(pid int) (procInfo, error) {
	dir := filepath.Join(fs.root, strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return procInfo{}, fmt.Errorf("read the stat of process %d: %w", pid, err)
	}
	info, err := parseStat(stat)
	if err != nil {
		return procInfo{}, fmt.Errorf("process %d: %w", pid, err)
	}
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return procInfo{}, fmt.Errorf("read the status of process %d: %w", pid, err)
	}
	if info.HWM, info.RSS, info.Anon, err = parseStatus(status); err != nil {
		return procInfo{}, fmt.Errorf("process %d: %w", pid, err)
	}
	return info, nil
}

// parseStat reads pid, comm, ppid, utime and stime from a /proc/PID/stat line.
// comm is in parentheses and may itself hold spaces and parentheses, so the fields
// after it are counted from the last ')'.
func parseStat(b []byte) (procInfo, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return procInfo{}, fmt.Errorf("stat %.60q: no (comm)", b)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:open])))
	if err != nil {
		return procInfo{}, fmt.Errorf("stat %.60q: bad pid", b)
	}
	// After ") ": state(3) ppid(4) ... utime(14) stime(15), numbered from 1.
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 13 {
		return procInfo{}, fmt.Errorf("stat %.60q: %d fields after comm, want at least 13", b, len(f))
	}
	var nums [3]int64
	for i, idx := range []int{1, 11, 12} { // ppid, utime, stime
		if nums[i], err = strconv.ParseInt(f[idx], 10, 64); err != nil {
			return procInfo{}, fmt.Errorf("stat field %d %q: %w", idx+3, f[idx], err)
		}
	}
	ticks := nums[1] + nums[2]
	return procInfo{PID: pid, PPID: int(nums[0]), Name: string(b[open+1 : end]),
		CPU: time.Duration(ticks) * time.Second / userHZ}, nil
}

// parseStatus reads VmHWM, VmRSS and RssAnon (kB) from /proc/PID/status. A
// process that is exiting has none: they read as zero.
func parseStatus(b []byte) (hwm, rss, anon int64, err error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		var dst *int64
		switch key {
		case "VmHWM":
			dst = &hwm
		case "VmRSS":
			dst = &rss
		case "RssAnon":
			dst = &anon
		}
		if !ok || dst == nil {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, 0, fmt.Errorf("status %s: %q is not a size in kB", key, val)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("status %s: %w", key, err)
		}
		*dst = n * 1024
	}
	return hwm, rss, anon, sc.Err()
}

// children lists the processes whose parent is ppid.
func (fs procFS) children(ppid int) ([]procInfo, error) {
	entries, err := os.ReadDir(fs.root)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []procInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(fs.root, e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		info, err := parseStat(stat)
		if err != nil || info.PPID != ppid {
			continue
		}
		if full, err := fs.read(pid); err == nil {
			out = append(out, full)
		}
	}
	return out, nil
}

// usage is the resource use of the daemon and its plugins.
type usage struct {
	// DaemonHWM is the daemon's peak resident set; PluginsHWM the sum of the
	// peaks of every plugin process seen (a restarted plugin counts once per
	// process). DaemonAnon is the highest RssAnon sampled: the daemon's own
	// memory, without the pages of the state file it maps.
	DaemonHWM, PluginsHWM, DaemonAnon int64
	// DaemonCPU and PluginsCPU are the CPU time used so far by the daemon and by
	// the plugin processes alive at the last sample, plus what plugins that are
	// gone had used when last seen.
	DaemonCPU, PluginsCPU time.Duration
	// Plugins is how many plugin processes were seen.
	Plugins int
}

// CPU is the daemon's and plugins' CPU time together.
func (u usage) CPU() time.Duration { return u.DaemonCPU + u.PluginsCPU }

// tracker follows a daemon process and its children.
type tracker struct {
	fs  procFS
	pid int

	mu         sync.Mutex
	daemonHWM  int64
	daemonAnon int64
	daemonCPU  time.Duration
	plugins    map[int]procInfo // by pid: the last sample, with the highest HWM seen
}

func newTracker(fs procFS, pid int) *tracker {
	return &tracker{fs: fs, pid: pid, plugins: map[int]procInfo{}}
}

// sample reads the daemon and its children once.
func (t *tracker) sample() (usage, error) {
	d, err := t.fs.read(t.pid)
	if err != nil {
		return t.usage(), err
	}
	kids, err := t.fs.children(t.pid)
	if err != nil {
		return t.usage(), err
	}
	t.mu.Lock()
	t.daemonHWM = max(t.daemonHWM, d.HWM)
	t.daemonAnon = max(t.daemonAnon, d.Anon)
	t.daemonCPU = max(t.daemonCPU, d.CPU)
	for _, k := range kids {
		old := t.plugins[k.PID]
		k.HWM = max(k.HWM, old.HWM)
		k.CPU = max(k.CPU, old.CPU)
		t.plugins[k.PID] = k
	}
	t.mu.Unlock()
	return t.usage(), nil
}

func (t *tracker) usage() usage {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := usage{DaemonHWM: t.daemonHWM, DaemonAnon: t.daemonAnon, DaemonCPU: t.daemonCPU, Plugins: len(t.plugins)}
	for _, p := range t.plugins {
		u.PluginsHWM += p.HWM
		u.PluginsCPU += p.CPU
	}
	return u
}
