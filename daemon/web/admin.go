package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"
)

// Status is the body of GET /v1/status, in the product contract's shape.
type Status struct {
	Tenants  []TenantStatus  `json:"tenants"`
	Profiles []ProfileStatus `json:"profiles"`
}

// TenantStatus is one SuperOffice tenant's licences.
type TenantStatus struct {
	Name         string `json:"name"`
	Licenses     int    `json:"licenses"`
	LicensesUsed int    `json:"licenses_used"`
}

// ProfileStatus is one profile and its links.
type ProfileStatus struct {
	Name     string       `json:"name"`
	Tenant   string       `json:"tenant"`
	Calendar string       `json:"calendar"`
	Links    []LinkStatus `json:"links"`
}

// LinkStatus is one link. LastSync is null until the first successful run;
// ActivationURL is "" unless the link waits for consent.
type LinkStatus struct {
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

// normalize turns nil slices into empty ones so the JSON has [] not null.
func (s *Status) normalize() {
	if s.Tenants == nil {
		s.Tenants = []TenantStatus{}
	}
	if s.Profiles == nil {
		s.Profiles = []ProfileStatus{}
	}
	for i := range s.Profiles {
		if s.Profiles[i].Links == nil {
			s.Profiles[i].Links = []LinkStatus{}
		}
	}
}

// AdminOptions are what the admin routes answer from.
type AdminOptions struct {
	Logger *slog.Logger
	// Metrics serves /metrics.
	Metrics http.Handler
	// Status builds the /v1/status body.
	Status func(ctx context.Context) (Status, error)
	// Ready says whether the daemon is ready (nil) or why not.
	Ready func(ctx context.Context) error
}

// NewAdminMux builds the admin routes. The daemon adds its own later with
// mux.Handle("POST /v1/profiles/{profile}/sync", ...): ServeMux routes by
// method and pattern, and accepts routes while serving.
func NewAdminMux(o AdminOptions) *http.ServeMux {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if o.Ready != nil {
			if err := o.Ready(r.Context()); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte("not ready: " + err.Error() + "\n"))
				return
			}
		}
		w.Write([]byte("ready\n"))
	})
	if o.Metrics != nil {
		mux.Handle("GET /metrics", o.Metrics)
	}
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		if o.Status == nil {
			WriteError(w, http.StatusServiceUnavailable, "status is not available yet")
			return
		}
		st, err := o.Status(r.Context())
		if err != nil {
			log.Warn("status failed", "err", err)
			WriteError(w, http.StatusInternalServerError, "status: "+err.Error())
			return
		}
		st.normalize()
		WriteJSON(w, http.StatusOK, st)
	})
	return mux
}

// WriteJSON writes v as an indented JSON response.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		WriteError(w, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// ErrorBody is the JSON body of every error answer of the /v1 API.
type ErrorBody struct {
	Error string `json:"error"`
}

// WriteError answers {"error": msg} with code.
func WriteError(w http.ResponseWriter, code int, msg string) {
	WriteJSON(w, code, ErrorBody{Error: msg})
}
