package pushdeliver

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// receiver answers each POST with the next status of its script (then 200) and
// keeps what it took.
type receiver struct {
	mu       sync.Mutex
	script   []int
	attempts int
	got      []string // "header|body" of each answered 2xx-4xx
	release  chan struct{}
	arrived  chan struct{}
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	select {
	case rv.arrived <- struct{}{}:
	default:
	}
	if rv.release != nil {
		<-rv.release
	}
	rv.mu.Lock()
	defer rv.mu.Unlock()
	rv.attempts++
	code := http.StatusOK
	if len(rv.script) > 0 {
		code, rv.script = rv.script[0], rv.script[1:]
	}
	if code < 500 {
		rv.got = append(rv.got, r.Header.Get("X-Test")+"|"+string(b))
	}
	w.WriteHeader(code)
}

func (rv *receiver) state() (attempts int, got []string) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return rv.attempts, append([]string(nil), rv.got...)
}

// settle waits, in bounded rounds, until the receiver saw want attempts.
func (rv *receiver) settle(t *testing.T, want int) {
	t.Helper()
	for range 1000 {
		if n, _ := rv.state(); n >= want {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	n, _ := rv.state()
	t.Fatalf("%d attempts arrived, want %d", n, want)
}

func note(i int) Notification {
	return Notification{Header: http.Header{"X-Test": {"n" + strconv.Itoa(i)}}, Body: []byte("b" + strconv.Itoa(i))}
}

func TestQueueRetriesUntilTaken(t *testing.T) {
	under500 := func(s int) bool { return s < 500 }
	only2xx := func(s int) bool { return s >= 200 && s < 300 }
	tests := []struct {
		name         string
		attempts     int
		taken        func(int) bool
		script       []int
		notes        int
		wantAttempts int
		wantGot      []string
		wantCounted  int
	}{
		{"in order", 4, only2xx, nil, 3, 3, []string{"n0|b0", "n1|b1", "n2|b2"}, 3},
		{"retried after 5xx", 4, only2xx, []int{500, 503}, 1, 3, []string{"n0|b0"}, 1},
		{"given up after the attempts", 3, only2xx, []int{500, 500, 500}, 1, 3, nil, 0},
		{"4xx taken when the service says so", 4, under500, []int{404}, 1, 1, []string{"n0|b0"}, 1},
		{"4xx retried when only 2xx counts", 4, only2xx, []int{404}, 1, 2, []string{"n0|b0", "n0|b0"}, 1},
		{"one attempt at least", 0, only2xx, []int{500}, 1, 1, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rv := &receiver{script: tc.script, arrived: make(chan struct{}, 1)}
			srv := httptest.NewServer(rv)
			defer srv.Close()
			var mu sync.Mutex
			counted := 0
			q := New(Options{Client: srv.Client(), Attempts: tc.attempts, Retry: time.Millisecond, Taken: tc.taken,
				Delivered: func() { mu.Lock(); counted++; mu.Unlock() }})
			for i := range tc.notes {
				n := note(i)
				n.URL = srv.URL
				q.Enqueue(n)
			}
			rv.settle(t, tc.wantAttempts)
			time.Sleep(20 * time.Millisecond) // room for an attempt too many
			q.Close()
			attempts, got := rv.state()
			mu.Lock()
			defer mu.Unlock()
			if attempts != tc.wantAttempts || counted != tc.wantCounted || !equal(got, tc.wantGot) {
				t.Fatalf("attempts %d, got %v, counted %d; want %d, %v, %d", attempts, got, counted, tc.wantAttempts, tc.wantGot, tc.wantCounted)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A full queue loses its oldest waiting notification; the one in flight is sent.
func TestQueueFullDropsTheOldest(t *testing.T) {
	rv := &receiver{release: make(chan struct{}), arrived: make(chan struct{}, 1)}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	q := New(Options{Client: srv.Client(), Attempts: 1, Taken: func(int) bool { return true }, MaxQueued: 2})
	defer q.Close()
	send := func(i int) {
		n := note(i)
		n.URL = srv.URL
		q.Enqueue(n)
	}
	send(0)
	select {
	case <-rv.arrived: // n0 is in flight and held there
	case <-time.After(5 * time.Second):
		t.Fatal("the first notification never arrived")
	}
	for i := 1; i <= 3; i++ {
		send(i)
	}
	close(rv.release)
	rv.settle(t, 3)
	if _, got := rv.state(); !equal(got, []string{"n0|b0", "n2|b2", "n3|b3"}) {
		t.Fatalf("got %v, want n0, n2, n3 (n1 lost)", got)
	}
}

// Close ends delivery with a retry pending, leaves no goroutine, and later
// notifications go nowhere.
func TestQueueCloseWithRetryPending(t *testing.T) {
	rv := &receiver{script: []int{500}, arrived: make(chan struct{}, 1)}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	before := runtime.NumGoroutine()
	q := New(Options{Client: srv.Client(), Attempts: 5, Retry: time.Hour, Taken: func(s int) bool { return s < 300 }})
	n := note(0)
	n.URL = srv.URL
	q.Enqueue(n)
	rv.settle(t, 1)
	done := make(chan struct{})
	go func() { q.Close(); q.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs on a pending retry")
	}
	q.Enqueue(n)
	time.Sleep(20 * time.Millisecond)
	if attempts, _ := rv.state(); attempts != 1 {
		t.Fatalf("%d attempts, want 1", attempts)
	}
	srv.Client().CloseIdleConnections()
	for range 300 {
		if runtime.NumGoroutine() <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d goroutines before, %d after Close", before, runtime.NumGoroutine())
}

func TestDrop(t *testing.T) {
	tests := []struct {
		name      string
		next      int
		fraction  float64
		draws     []float64
		want      []bool
		wantNext  int
		wantDrawn int
	}{
		{"no fault draws nothing", 0, 0, nil, []bool{false, false}, 0, 0},
		{"the next ones", 2, 0, nil, []bool{true, true, false}, 0, 0},
		{"the next ones before the fraction", 1, 0.5, []float64{0.9, 0.1}, []bool{true, false, true}, 0, 2},
		{"a fraction", 0, 0.25, []float64{0.2, 0.25, 0.3}, []bool{true, false, false}, 0, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next, drawn := tc.next, 0
			draw := func() float64 {
				v := tc.draws[drawn]
				drawn++
				return v
			}
			for i, want := range tc.want {
				if got := Drop(&next, tc.fraction, draw); got != want {
					t.Fatalf("call %d: %v, want %v", i, got, want)
				}
			}
			if next != tc.wantNext || drawn != tc.wantDrawn {
				t.Fatalf("next %d, drawn %d; want %d, %d", next, drawn, tc.wantNext, tc.wantDrawn)
			}
		})
	}
}
