package sotest_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"synchronizer/plugins/superoffice/internal/swagger"
	"synchronizer/plugins/superoffice/sotest"
)

var (
	spec       *swagger.Spec
	signingKey *rsa.PrivateKey
	partnerKey *rsa.PrivateKey
)

func TestMain(m *testing.M) {
	var err error
	if spec, err = swagger.Load(); err != nil {
		panic(err)
	}
	if signingKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if partnerKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	t     *testing.T
	clk   *clock
	so    *sotest.Server
	srv   *httptest.Server
	user1 int
	user2 int
	room  int
}

func newFixture(t *testing.T, mod func(*sotest.Options)) *fixture {
	t.Helper()
	clk := &clock{t: time.Date(2025, 3, 20, 9, 0, 0, 0, time.UTC)}
	o := sotest.Options{ContextID: "Cust7", Now: clk.Now, SigningKey: signingKey, PartnerKey: partnerKey,
		WebhookRetryDelays: []time.Duration{0, time.Millisecond, time.Millisecond}}
	if mod != nil {
		mod(&o)
	}
	so := sotest.New(o)
	srv := httptest.NewServer(so)
	t.Cleanup(func() { srv.Close(); so.Close() })
	f := &fixture{t: t, clk: clk, so: so, srv: srv}
	var err error
	if f.user1, err = so.AddUser(sotest.User{Login: "USER1", FullName: "User One", Email: "user1@so.test", Admin: true}); err != nil {
		t.Fatal(err)
	}
	if f.user2, err = so.AddUser(sotest.User{Login: "USER2", Email: "user2@so.test"}); err != nil {
		t.Fatal(err)
	}
	if f.room, err = so.AddResource("ROOM1", true); err != nil {
		t.Fatal(err)
	}
	return f
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
}

// do calls the tenant API as the admin and checks the answer against the
// official descriptions.
func (f *fixture) do(method, path, body string, hdr ...string) answer {
	f.t.Helper()
	return f.call(f.so.APIURL(f.srv.URL)+path, method, body, append([]string{"Authorization", "Bearer " + f.so.AdminToken()}, hdr...)...)
}

func (f *fixture) call(url, method, body string, hdr ...string) answer {
	f.t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("X-Emulator-Fault") != "" {
		return answer{status: resp.StatusCode, header: resp.Header, body: b}
	}
	if err := spec.ValidateResponse(method, req.URL.Path, resp.StatusCode, b); err != nil {
		f.t.Errorf("answer does not match the Swagger description: %v", err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func (f *fixture) post(path string, v any) answer {
	f.t.Helper()
	b, _ := json.Marshal(v)
	return f.do("POST", path, string(b))
}
