package graphtest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
)

type batchRequest struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

type batchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    any               `json:"body,omitempty"`
}

// handleBatch runs up to 20 requests. Like the real service it sends up to four of
// them to the mailbox at once (so a batch can meet the concurrency limit and get a
// 429 inside), honours dependsOn, and answers 200 with each item's own status.
func (s *Server) handleBatch(rc *reqCtx) (int, any, *apiError) {
	body, err := readJSONBody(rc.r)
	if err != nil {
		return 0, nil, err
	}
	var reqs []batchRequest
	if e := json.Unmarshal(body["requests"], &reqs); e != nil {
		return 0, nil, errf(http.StatusBadRequest, "BadRequest", "Invalid batch payload format.")
	}
	if len(reqs) == 0 {
		return 0, nil, errf(http.StatusBadRequest, "BadRequest", "Invalid batch payload format: no requests.")
	}
	if len(reqs) > 20 {
		return 0, nil, errf(http.StatusBadRequest, "BadRequest", "Number of requests in the batch exceeds the maximum of 20.")
	}
	index := map[string]int{}
	for i, q := range reqs {
		if q.ID == "" {
			return 0, nil, errf(http.StatusBadRequest, "BadRequest", "Batch request %d has no id.", i)
		}
		if _, dup := index[q.ID]; dup {
			return 0, nil, errf(http.StatusBadRequest, "BadRequest", "Batch request id '%s' is not unique.", q.ID)
		}
		if q.Method == "" || q.URL == "" {
			return 0, nil, errf(http.StatusBadRequest, "BadRequest", "Batch request '%s' needs a method and a url.", q.ID)
		}
		for _, d := range q.DependsOn {
			if j, ok := index[d]; !ok || j >= i {
				return 0, nil, errf(http.StatusBadRequest, "BadRequest", "Batch request '%s' depends on '%s', which does not come before it.", q.ID, d)
			}
		}
		index[q.ID] = i
	}
	out := make([]batchResponse, len(reqs))
	done := make([]bool, len(reqs))
	for remaining := len(reqs); remaining > 0; {
		// The next wave: items whose dependencies are answered, four at a time.
		var wave []int
		for i, q := range reqs {
			if done[i] || len(wave) == 4 {
				continue
			}
			ready := true
			for _, d := range q.DependsOn {
				if !done[index[d]] {
					ready = false
				}
			}
			if ready {
				wave = append(wave, i)
			}
		}
		var wg sync.WaitGroup
		for _, i := range wave {
			failedDep := false
			for _, d := range reqs[i].DependsOn {
				if out[index[d]].Status >= 400 {
					failedDep = true
				}
			}
			if failedDep {
				out[i] = batchResponse{ID: reqs[i].ID, Status: http.StatusFailedDependency, Body: graphErrorBody{Error: graphErrorDetail{Code: "FailedDependency", Message: "A request this one depends on failed."}}}
				continue
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				out[i] = s.runBatchItem(rc, reqs[i])
			}(i)
		}
		wg.Wait()
		for _, i := range wave {
			done[i] = true
			remaining--
		}
	}
	return http.StatusOK, map[string]any{"responses": out}, nil
}

func (s *Server) runBatchItem(rc *reqCtx, q batchRequest) batchResponse {
	u := q.URL
	if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
		return batchResponse{ID: q.ID, Status: http.StatusBadRequest, Body: graphErrorBody{Error: graphErrorDetail{Code: "BadRequest", Message: "Batch request urls must be relative."}}}
	}
	if !strings.HasPrefix(u, "/") {
		u = "/" + u
	}
	var body []byte
	if len(q.Body) > 0 && string(q.Body) != "null" {
		body = q.Body
	}
	req, err := http.NewRequestWithContext(rc.r.Context(), strings.ToUpper(q.Method), rc.base+"/v1.0"+u, bytes.NewReader(body))
	if err != nil {
		return batchResponse{ID: q.ID, Status: http.StatusBadRequest, Body: graphErrorBody{Error: graphErrorDetail{Code: "BadRequest", Message: "Invalid request url."}}}
	}
	req.Host = rc.r.Host
	req.TLS = rc.r.TLS
	for k, v := range q.Headers {
		req.Header.Set(k, v)
	}
	if req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", rc.r.Header.Get("Authorization"))
	}
	if req.Header.Get("Prefer") == "" {
		for _, p := range rc.r.Header.Values("Prefer") {
			req.Header.Add("Prefer", p)
		}
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res := s.execGraph(req, true)
	resp := batchResponse{ID: q.ID, Status: res.status, Headers: map[string]string{}}
	for k, v := range res.headers {
		resp.Headers[k] = strings.Join(v, ", ")
	}
	if res.err != nil {
		resp.Status = res.err.status
		if res.err.retryAfter > 0 {
			resp.Headers["Retry-After"] = retryAfterSeconds(res.err.retryAfter)
		}
		rid, crid := s.requestIDs(req)
		resp.Body = graphErrorBody{Error: graphErrorDetail{Code: res.err.code, Message: res.err.msg, InnerError: innerError{Date: formatDateTimeUTC(s.now()), RequestID: rid, ClientRequestID: crid}}}
	} else {
		resp.Body = res.body
	}
	if resp.Body != nil {
		resp.Headers["Content-Type"] = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"
	}
	if len(resp.Headers) == 0 {
		resp.Headers = nil
	}
	return resp
}
