package oauth

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"synchronizer/daemon/web"
)

// ActivationRequest is the optional JSON body of
// POST /v1/profiles/{profile}/links/{link}/activation.
type ActivationRequest struct {
	// Resend replaces the activation link and mails it again.
	Resend bool `json:"resend"`
}

// maxAdminBody bounds the admin routes' JSON bodies.
const maxAdminBody = 4 << 10

// Mount adds the consent side's admin routes to the admin listener:
//
//	POST /v1/profiles/{profile}/links/{link}/activation   issue / resend (ActivationResult)
//	POST /v1/connections/{name}/setup                     open an admin setup (SetupResult)
//
// Errors are {"error": "..."} with 404 (unknown), 409 (not needed, link active),
// 400 (bad body) or 500.
func (s *Service) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/profiles/{profile}/links/{link}/activation", s.serveActivation)
	mux.HandleFunc("POST /v1/connections/{name}/setup", s.serveSetup)
}

func (s *Service) serveActivation(w http.ResponseWriter, r *http.Request) {
	var req ActivationRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err != nil {
		web.WriteError(w, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			web.WriteError(w, http.StatusBadRequest, `body: want {"resend": true|false}: `+err.Error())
			return
		}
	}
	if v := r.URL.Query().Get("resend"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			web.WriteError(w, http.StatusBadRequest, "resend: want true or false")
			return
		}
		req.Resend = req.Resend || b
	}
	res, err := s.IssueActivation(r.Context(), r.PathValue("profile"), r.PathValue("link"), req.Resend)
	if err != nil {
		s.adminError(w, "issue activation", err)
		return
	}
	web.WriteJSON(w, http.StatusOK, res)
}

func (s *Service) serveSetup(w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxAdminBody)); err != nil {
		web.WriteError(w, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	res, err := s.OpenSetup(r.Context(), r.PathValue("name"))
	if err != nil {
		s.adminError(w, "open setup", err)
		return
	}
	web.WriteJSON(w, http.StatusOK, res)
}

func (s *Service) adminError(w http.ResponseWriter, what string, err error) {
	switch {
	case errors.Is(err, ErrUnknown):
		web.WriteError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrNotNeeded), errors.Is(err, ErrActive):
		web.WriteError(w, http.StatusConflict, err.Error())
	default:
		s.log.Error(what+" failed", "err", err)
		web.WriteError(w, http.StatusInternalServerError, what+": "+err.Error())
	}
}
