package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// linkStatus is one link of GET /v1/status (SPEC.md's shape).
type linkStatus struct {
	Name          string     `json:"name"`
	Kind          string     `json:"kind"`
	Associate     string     `json:"associate"`
	Mailbox       string     `json:"mailbox"`
	State         string     `json:"state"`
	LastSync      *time.Time `json:"last_sync"`
	LastError     string     `json:"last_error"`
	Items         int        `json:"items"`
	ActivationURL string     `json:"activation_url"`
}

type profileStatus struct {
	Name     string       `json:"name"`
	Tenant   string       `json:"tenant"`
	Calendar string       `json:"calendar"`
	Links    []linkStatus `json:"links"`
}

type daemonStatus struct {
	Profiles []profileStatus `json:"profiles"`
}

// admin talks to the daemon's admin listener.
type admin struct {
	c    *client
	base string // http://host:port
}

func (a *admin) status(ctx context.Context) (daemonStatus, error) {
	var st daemonStatus
	if _, err := a.c.do(ctx, request{method: http.MethodGet, url: a.base + "/v1/status"}, &st); err != nil {
		return st, fmt.Errorf("daemon status: %w", err)
	}
	return st, nil
}

// ready waits until /readyz answers 200 or ctx ends.
func (a *admin) ready(ctx context.Context, exited <-chan struct{}) error {
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		req, err := http.NewRequestWithContext(rctx, http.MethodGet, a.base+"/readyz", nil)
		if err != nil {
			cancel()
			return err
		}
		resp, err := a.c.http.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the daemon did not become ready: %w", ctx.Err())
		case <-exited:
			return fmt.Errorf("the daemon exited before it was ready")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// setupURL opens the admin setup of a superoffice or calendar block and returns
// the setup page's URL ("" when the block needs none: HTTP 409).
func (a *admin) setupURL(ctx context.Context, name string) (string, error) {
	var res struct {
		URL string `json:"setup_url"`
	}
	status, err := a.c.do(ctx, request{method: http.MethodPost, url: a.base + "/v1/connections/" + url.PathEscape(name) + "/setup"}, &res)
	if status == http.StatusConflict {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("open the setup of %s: %w", name, err)
	}
	if res.URL == "" {
		return "", fmt.Errorf("open the setup of %s: the answer has no setup_url", name)
	}
	return res.URL, nil
}

// activationURL asks for a link's activation URL ("" when the link needs none).
func (a *admin) activationURL(ctx context.Context, profile, link string) (string, error) {
	var res struct {
		URL   string `json:"activation_url"`
		State string `json:"state"`
	}
	status, err := a.c.do(ctx, request{method: http.MethodPost,
		url: a.base + "/v1/profiles/" + url.PathEscape(profile) + "/links/" + url.PathEscape(link) + "/activation"}, &res)
	if status == http.StatusConflict {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("activation of %s/%s: %w", profile, link, err)
	}
	return res.URL, nil
}

// syncResult is the part of a run-now answer the benchmark reads.
type syncResult struct {
	OK    bool `json:"ok"`
	Links []struct {
		Link  string `json:"link"`
		Ran   bool   `json:"ran"`
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	} `json:"links"`
}

// syncProfile runs every link of a profile now and waits for the answer.
func (a *admin) syncProfile(ctx context.Context, profile string) (syncResult, error) {
	var res syncResult
	if _, err := a.c.do(ctx, request{method: http.MethodPost, url: a.base + "/v1/profiles/" + url.PathEscape(profile) + "/sync"}, &res); err != nil {
		return res, fmt.Errorf("sync %s: %w", profile, err)
	}
	return res, nil
}

// metric sums every sample of one metric family in a /metrics scrape.
func (a *admin) metric(ctx context.Context, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := a.c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scrape the daemon: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("scrape the daemon: HTTP %d", resp.StatusCode)
	}
	return sumMetric(resp.Body, name)
}

// sumMetric adds the values of every sample named name (with any labels) in the
// Prometheus text format.
func sumMetric(r io.Reader, name string) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var sum float64
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		if rest[0] == '{' {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				return 0, fmt.Errorf("metric line %q: unclosed labels", shorten(line, 80))
			}
			rest = rest[end+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, fmt.Errorf("metric line %q: no value", shorten(line, 80))
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("metric line %q: %w", shorten(line, 80), err)
		}
		sum += v
	}
	return sum, sc.Err()
}

// metricBy sums the samples of one metric family by the value of one label.
func (a *admin) metricBy(ctx context.Context, name, label string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape the daemon: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape the daemon: HTTP %d", resp.StatusCode)
	}
	return sumMetricBy(resp.Body, name, label)
}

// sumMetricBy adds the values of the samples named name by the value of label
// (samples without it count under "").
func sumMetricBy(r io.Reader, name, label string) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		var labels string
		if rest[0] == '{' {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				return nil, fmt.Errorf("metric line %q: unclosed labels", shorten(line, 80))
			}
			labels, rest = rest[1:end], rest[end+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("metric line %q: no value", shorten(line, 80))
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metric line %q: %w", shorten(line, 80), err)
		}
		out[labelValue(labels, label)] += v
	}
	return out, sc.Err()
}

// labelValue finds label="value" in a sample's label list (values here hold no
// quotes or commas: profile and result names).
func labelValue(labels, label string) string {
	for _, part := range strings.Split(labels, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && k == label {
			if s, err := strconv.Unquote(v); err == nil {
				return s
			}
			return strings.Trim(v, `"`)
		}
	}
	return ""
}
