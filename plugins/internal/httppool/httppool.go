// Package httppool is the HTTP transport the provider plugins send their
// requests through.
package httppool

import "net/http"

// MaxIdlePerHost covers the runs the host makes at once against one instance.
const MaxIdlePerHost = 64

// Transport is Go's default transport, but keeping up to MaxIdlePerHost idle
// connections to a host (the default keeps two). Many links run at once
// against one service host; with two kept, every other request opened a new
// connection (and against the real service, a new TLS session) and closed it
// after.
func Transport() http.RoundTripper {
	base, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport
	}
	t := base.Clone()
	t.MaxIdleConns = 4 * MaxIdlePerHost
	t.MaxIdleConnsPerHost = MaxIdlePerHost
	return t
}
