package gcaltest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
)

// maxBatchCalls is Google's limit of inner calls per batch request.
const maxBatchCalls = 1000

// serveBatch answers POST /batch/calendar/v3: a multipart/mixed body of
// application/http parts, each a full inner request. The answer holds one part per
// call, in order, each a full HTTP response with its own status. Outer headers
// (Authorization) apply to inner requests that do not set them.
func (s *Server) serveBatch(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		errorResponse(&gerr{code: 405, domain: "global", reason: "httpMethodNotAllowed", message: "Method Not Allowed"}).write(w)
		return
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		errorResponse(errBadRequest("Batch requests must be multipart/mixed with a boundary.")).write(w)
		return
	}
	mr := multipart.NewReader(io.LimitReader(r.Body, 64<<20), params["boundary"])
	type inner struct {
		contentID string
		req       *http.Request
		err       *gerr
	}
	var calls []inner
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			errorResponse(errBadRequest("Malformed multipart body.")).write(w)
			return
		}
		if len(calls) == maxBatchCalls {
			errorResponse(errBadRequest(fmt.Sprintf("Too many requests in batch: at most %d.", maxBatchCalls))).write(w)
			return
		}
		in := inner{contentID: strings.Trim(part.Header.Get("Content-ID"), "<>")}
		if ct := part.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/http") {
			in.err = errBadRequest("Each part must be application/http.")
		} else {
			req, err := readInnerRequest(part)
			if err != nil {
				in.err = errBadRequest("Malformed inner request.")
			} else {
				req.Host = r.Host
				req.TLS = r.TLS
				req.RequestURI = ""
				for k, v := range r.Header {
					if k == "Content-Type" || k == "Content-Length" {
						continue
					}
					if _, ok := req.Header[k]; !ok {
						req.Header[k] = v
					}
				}
				req = req.WithContext(r.Context())
				in.req = req
			}
		}
		calls = append(calls, in)
	}
	if len(calls) == 0 {
		errorResponse(errBadRequest("Empty batch request.")).write(w)
		return
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	boundary := "batch_" + randomToken("", 8)
	_ = mw.SetBoundary(boundary)
	for i, in := range calls {
		var resp *response
		switch {
		case in.err != nil:
			resp = errorResponse(in.err)
		case !strings.HasPrefix(in.req.URL.Path, "/calendar/v3/"):
			resp = errorResponse(errBadRequest("Batch requests of this endpoint must address /calendar/v3/."))
		default:
			resp = s.serveAPI(in.req, true)
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", "application/http")
		id := in.contentID
		if id == "" {
			id = fmt.Sprint(i + 1)
		}
		h.Set("Content-ID", "<response-"+id+">")
		pw, _ := mw.CreatePart(h)
		fmt.Fprintf(pw, "HTTP/1.1 %d %s\r\n", resp.code, http.StatusText(resp.code))
		for k, vs := range resp.header {
			for _, v := range vs {
				fmt.Fprintf(pw, "%s: %s\r\n", k, v)
			}
		}
		fmt.Fprintf(pw, "Content-Length: %d\r\n\r\n", len(resp.body))
		_, _ = pw.Write(resp.body)
	}
	_ = mw.Close()
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+boundary)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// readInnerRequest parses one application/http part. The body is whatever follows
// the header block (inner requests often carry no Content-Length).
func readInnerRequest(part io.Reader) (*http.Request, error) {
	raw, err := io.ReadAll(io.LimitReader(part, 4<<20))
	if err != nil {
		return nil, err
	}
	sep := []byte("\r\n\r\n")
	i := bytes.Index(raw, sep)
	if i < 0 {
		sep = []byte("\n\n")
		i = bytes.Index(raw, sep)
	}
	head, body := raw, []byte(nil)
	if i >= 0 {
		head, body = raw[:i], raw[i+len(sep):]
	}
	req, err := http.ReadRequest(bufio.NewReader(io.MultiReader(bytes.NewReader(head), strings.NewReader("\r\n\r\n"))))
	if err != nil {
		return nil, err
	}
	body = bytes.TrimRight(body, "\r\n")
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Del("Content-Length")
	return req, nil
}
