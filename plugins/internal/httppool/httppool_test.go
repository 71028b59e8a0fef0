package httppool

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Requests made at once by many runs reuse their connections: a second wave
// of as many requests in flight together as the first opens none.
func TestPooledTransportKeepsConnections(t *testing.T) {
	var opened, arrived atomic.Int64
	var gate atomic.Pointer[chan struct{}]
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := gate.Load()
		arrived.Add(1)
		<-*g
		w.Write([]byte("{}"))
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	client := &http.Client{Transport: Transport()}
	const n = 24
	wave := func(k int64) {
		g := make(chan struct{})
		gate.Store(&g)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := client.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}()
		}
		for i := 0; i < 5000 && arrived.Load() < k*n; i++ {
			time.Sleep(time.Millisecond)
		}
		close(g)
		wg.Wait()
	}
	wave(1)
	time.Sleep(100 * time.Millisecond) // the connections go back to the pool
	first := opened.Load()
	wave(2)
	if extra := opened.Load() - first; extra != 0 {
		t.Errorf("the second wave of %d requests opened %d connections, want 0 (the first opened %d)", n, extra, first)
	}
}
