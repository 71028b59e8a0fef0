package graphtest

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestBatch(t *testing.T) {
	s, ts, _ := newTestServer(t, Options{})
	a := newAPI(t, ts, s.AdminToken())
	id := str(a.must(201, "POST", "/v1.0/users/user1@m365.test/events", timedEvent("x", testStart, time.Hour, "UTC")).body, "id")
	var reqs []map[string]any
	for i := 0; i < 21; i++ {
		reqs = append(reqs, map[string]any{"id": fmt.Sprint(i), "method": "GET", "url": "/users/user1@m365.test/events/" + id})
	}
	if ans := a.do("POST", "/v1.0/$batch", map[string]any{"requests": reqs}); ans.status != 400 {
		t.Fatalf("21 requests: %d", ans.status)
	}
	ans := a.must(200, "POST", "/v1.0/$batch", map[string]any{"requests": []any{
		map[string]any{"id": "1", "method": "GET", "url": "/users/user1@m365.test/events/" + id, "headers": map[string]string{"Prefer": `IdType="ImmutableId"`}},
		map[string]any{"id": "2", "method": "PATCH", "url": "/users/user1@m365.test/events/" + id, "headers": map[string]string{"Content-Type": "application/json"}, "body": map[string]any{"subject": "y"}, "dependsOn": []string{"1"}},
		map[string]any{"id": "3", "method": "GET", "url": "/users/user1@m365.test/events/AAkALgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
		map[string]any{"id": "4", "method": "DELETE", "url": "/users/user1@m365.test/events/" + id, "dependsOn": []string{"3"}},
	}})
	status := map[string]float64{}
	for _, r := range ans.body["responses"].([]any) {
		m := r.(map[string]any)
		status[m["id"].(string)] = m["status"].(float64)
		if m["id"] == "2" && m["body"].(map[string]any)["subject"] != "y" {
			t.Errorf("item 2 body %v", m["body"])
		}
	}
	if status["1"] != 200 || status["2"] != 200 || status["3"] != 404 || status["4"] != 424 {
		t.Fatalf("statuses %v", status)
	}
	a.must(200, "GET", "/v1.0/users/user1@m365.test/events/"+id, nil)
	st := s.Stats()
	if st.BatchItems != 3 || st.Requests["POST /v1.0/$batch"] != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// Exchange's limits per application and mailbox: four in flight, N per ten minutes.
func TestThrottlingLimits(t *testing.T) {
	t.Run("concurrency", func(t *testing.T) {
		s, ts, _ := newTestServer(t, Options{Latency: 50 * time.Millisecond})
		a := newAPI(t, ts, s.AdminToken())
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[string]int{}
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ans := a.do("GET", "/v1.0/users/user1@m365.test/events", nil)
				mu.Lock()
				defer mu.Unlock()
				if ans.status == 429 {
					codes[errCode(ans)]++
					if ans.header.Get("Retry-After") == "" {
						t.Error("429 without Retry-After")
					}
				} else {
					codes[fmt.Sprint(ans.status)]++
				}
			}()
		}
		wg.Wait()
		if codes["ApplicationThrottled"] < 1 || codes["200"] < 4 {
			t.Fatalf("answers %v", codes)
		}
		// Another mailbox has its own budget.
		a.must(200, "GET", "/v1.0/users/user2@m365.test/events", nil)
	})
	t.Run("rate", func(t *testing.T) {
		s, ts, clk := newTestServer(t, Options{RateLimit: 3})
		a := newAPI(t, ts, s.AdminToken())
		for i := 0; i < 3; i++ {
			a.must(200, "GET", "/v1.0/users/user1@m365.test/events", nil)
		}
		ans := a.do("GET", "/v1.0/users/user1@m365.test/events", nil)
		if ans.status != 429 || errCode(ans) != "TooManyRequests" || ans.header.Get("Retry-After") != "600" {
			t.Fatalf("over the rate: %d %s %q", ans.status, errCode(ans), ans.header.Get("Retry-After"))
		}
		clk.Advance(10 * time.Minute)
		a.must(200, "GET", "/v1.0/users/user1@m365.test/events", nil)
	})
}
