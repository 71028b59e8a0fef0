package web

import (
	"net/http"
	"strings"
)

// NotifyPrefix is the path under which the consent listener receives change
// notifications from the services (public_url/notify/...).
const NotifyPrefix = "/notify/"

// WithNotify returns the consent listener's handler with the notification
// route: POST /notify/... goes to notify (daemon/push serves it), everything
// else to consent. The consent routes refuse request bodies and methods other
// than GET, so notifications are sorted out before them. A nil notify leaves
// consent alone (push off).
func WithNotify(consent, notify http.Handler) http.Handler {
	if notify == nil {
		return consent
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, NotifyPrefix) {
			w.Header().Set("X-Content-Type-Options", "nosniff")
			notify.ServeHTTP(w, r)
			return
		}
		consent.ServeHTTP(w, r)
	})
}
