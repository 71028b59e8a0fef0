package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	cases := []struct {
		name, line string
		want       procInfo
		wantErr    bool
	}{
		{"plain", "1234 (synchronizer) S 1200 1234 1200 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 0 0",
			procInfo{PID: 1234, PPID: 1200, Name: "synchronizer", CPU: 3 * time.Second}, false},
		{"comm with spaces and parentheses", "77 (a (b) c) R 1 77 1 0 -1 0 0 0 0 0 7 3 0 0",
			procInfo{PID: 77, PPID: 1, Name: "a (b) c", CPU: 100 * time.Millisecond}, false},
		{"no comm", "77 a R 1", procInfo{}, true},
		{"too short", "77 (a) R 1 2 3", procInfo{}, true},
		{"bad number", "77 (a) R x 77 1 0 -1 0 0 0 0 0 7 3 0 0", procInfo{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseStat([]byte(c.line))
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if err == nil && got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	hwm, rss, anon, err := parseStatus([]byte("Name:\tx\nVmPeak:\t 9999 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nRssAnon:\t  512 kB\nRssFile:\t 512 kB\n"))
	if err != nil || hwm != 2048*1024 || rss != 1024*1024 || anon != 512*1024 {
		t.Errorf("hwm %d rss %d anon %d err %v", hwm, rss, anon, err)
	}
	if hwm, rss, anon, err := parseStatus([]byte("Name:\tzombie\nState:\tZ\n")); err != nil || hwm != 0 || rss != 0 || anon != 0 {
		t.Errorf("exiting process: %d %d %d %v", hwm, rss, anon, err)
	}
	if _, _, _, err := parseStatus([]byte("VmHWM:\t12 MB\n")); err == nil {
		t.Error("a size in MB was accepted")
	}
}

// fakeProc writes a process into a /proc-like tree.
func fakeProc(t *testing.T, root string, pid, ppid int, name string, ticks int, hwmKB int) {
	t.Helper()
	dir := filepath.Join(root, strconv.Itoa(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stat := strconv.Itoa(pid) + " (" + name + ") S " + strconv.Itoa(ppid) + " 1 1 0 -1 0 0 0 0 0 " + strconv.Itoa(ticks) + " 0 0 0 20"
	status := "Name:\t" + name + "\nVmHWM:\t" + strconv.Itoa(hwmKB) + " kB\nVmRSS:\t1 kB\nRssAnon:\t" + strconv.Itoa(hwmKB/2) + " kB\n"
	for file, text := range map[string]string{"stat": stat, "status": status} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The tracker keeps the daemon's peak and every plugin process's peak, also of
// a plugin that was restarted (two processes, both counted) or whose memory
// went down since.
func TestTrackerKeepsPeaks(t *testing.T) {
	root := t.TempDir()
	fakeProc(t, root, 100, 1, "synchronizer", 500, 50_000)
	fakeProc(t, root, 101, 100, "synchronizer", 100, 20_000)
	fakeProc(t, root, 102, 100, "synchronizer", 100, 30_000)
	fakeProc(t, root, 200, 1, "other", 9999, 999_999) // not ours
	os.WriteFile(filepath.Join(root, "meminfo"), []byte("MemTotal: 1 kB\n"), 0o644)
	tr := newTracker(procFS{root: root}, 100)
	u, err := tr.sample()
	if err != nil {
		t.Fatal(err)
	}
	if u.DaemonHWM != 50_000*1024 || u.DaemonAnon != 25_000*1024 || u.PluginsHWM != 50_000*1024 || u.Plugins != 2 || u.CPU() != 7*time.Second {
		t.Fatalf("first sample: %+v", u)
	}
	// Plugin 102 is restarted as 103; 101's memory goes down.
	os.RemoveAll(filepath.Join(root, "102"))
	fakeProc(t, root, 103, 100, "synchronizer", 10, 25_000)
	fakeProc(t, root, 101, 100, "synchronizer", 150, 10_000)
	u, err = tr.sample()
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(20_000+30_000+25_000) * 1024; u.PluginsHWM != want || u.Plugins != 3 {
		t.Errorf("after a restart: plugins peak %d over %d processes, want %d over 3", u.PluginsHWM, u.Plugins, want)
	}
	if want := (500 + 150 + 100 + 10) * 10 * time.Millisecond; u.CPU() != want {
		t.Errorf("cpu %v, want %v", u.CPU(), want)
	}
	os.RemoveAll(filepath.Join(root, "100"))
	if _, err := tr.sample(); err == nil {
		t.Error("a vanished daemon gave no error")
	}
	if u := tr.usage(); u.DaemonHWM != 50_000*1024 {
		t.Errorf("the daemon's peak was lost: %d", u.DaemonHWM)
	}
}
