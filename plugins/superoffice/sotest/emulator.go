package sotest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// MoveTenant moves the tenant to another host (here: another host label in the
// path, online2 -> online3). Requests to the old one answer 421 Misdirected
// Request; the state API names the new one. It returns the new tenant path.
func (s *Server) MoveTenant() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.hostN++
	s.st.hostLabel = "online" + strconv.Itoa(s.st.hostN)
	return "/" + s.st.hostLabel + "/" + s.opts.ContextID
}

var tenantStates = []string{"Unknown", "Provisioning", "Running", "Deleted", "Suspended", "OnlineMaintenance",
	"OfflineMaintenance", "", "ProvisioningFailed", "", "Deleting", "DeleteFailed", "MigrationPending"}

// SetTenantState sets the state the state API reports ("Running",
// "OfflineMaintenance", "Suspended", ...). OfflineMaintenance makes the API answer
// 503; states other than Running and OnlineMaintenance make it answer 403.
func (s *Server) SetTenantState(state string) error {
	for _, st := range tenantStates {
		if st != "" && strings.EqualFold(st, state) {
			s.mu.Lock()
			s.st.tenantState = st
			s.mu.Unlock()
			return nil
		}
	}
	return fmt.Errorf("unknown tenant state %q", state)
}

// Reset deletes every appointment, foreign key, webhook, token and ticket, clears
// faults and counters and puts the tenant back on its first host. Users and
// resources stay, as does the licence count.
func (s *Server) Reset() {
	s.mu.Lock()
	old := s.st
	users := old.assocs
	persons := old.persons
	next, nextPerson := old.nextAssoc, old.nextPerson
	licenses := old.licenses
	admin := old.adminTok
	s.st.reset(s.opts)
	s.st.adminTok = admin
	s.st.assocs, s.st.persons, s.st.nextAssoc, s.st.nextPerson = users, persons, next, nextPerson
	s.st.licenses = licenses
	s.mu.Unlock()
}

type emulatorRequest struct {
	Faults
	FailNext *struct {
		Status     int    `json:"status"`
		Count      int    `json:"count"`
		RetryAfter string `json:"retry_after"`
	} `json:"fail_next"`
	TruncateNext int `json:"truncate_next"`
}

func (s *Server) serveEmulator(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/_emulator/")
	readJSON := func(v any) bool {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return false
		}
		if len(strings.TrimSpace(string(b))) == 0 {
			return true
		}
		if err := json.Unmarshal(b, v); err != nil {
			http.Error(w, "bad JSON: "+err.Error(), http.StatusBadRequest)
			return false
		}
		return true
	}
	switch {
	case path == "stats" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Stats())
	case path == "faults" && r.Method == http.MethodPost:
		var req emulatorRequest
		if !readJSON(&req) {
			return
		}
		if req.Break != "" && req.Break != "garbage" && req.Break != "truncated" {
			http.Error(w, `break must be "garbage" or "truncated"`, http.StatusBadRequest)
			return
		}
		if req.Throttle < 0 || req.ServerErrors < 0 || req.Throttle+req.ServerErrors > 1 {
			http.Error(w, "throttle and server_errors are fractions that add up to at most 1", http.StatusBadRequest)
			return
		}
		if req.DropNotifications < 0 || req.DropNotifications > 1 || req.DropNextNotifications < 0 {
			http.Error(w, "drop_notifications is a fraction and drop_next_notifications a count", http.StatusBadRequest)
			return
		}
		if st := req.StopWebhooks; st != "" && st != "Stopped" && st != "TooManyErrors" {
			http.Error(w, `stop_webhooks must be "Stopped" or "TooManyErrors"`, http.StatusBadRequest)
			return
		}
		s.SetFaults(req.Faults)
		if req.FailNext != nil && req.FailNext.Count > 0 {
			s.FailNext(req.FailNext.Status, req.FailNext.Count, req.FailNext.RetryAfter)
		}
		if req.TruncateNext > 0 {
			s.TruncateNext(req.TruncateNext)
		}
		w.WriteHeader(http.StatusNoContent)
	case path == "reset" && r.Method == http.MethodPost:
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	case path == "licenses" && r.Method == http.MethodPost:
		var req struct {
			User *int `json:"user"`
		}
		if !readJSON(&req) {
			return
		}
		if req.User == nil || *req.User < 0 {
			http.Error(w, `want {"user": N} with N >= 0`, http.StatusBadRequest)
			return
		}
		s.SetLicenses(*req.User)
		total, used := s.Licenses()
		writeJSON(w, http.StatusOK, map[string]int{"user": total, "in_use": used})
	case path == "move" && r.Method == http.MethodPost:
		p := s.MoveTenant()
		writeJSON(w, http.StatusOK, map[string]string{"api": requestBase(r) + p + "/api"})
	case path == "state" && r.Method == http.MethodPost:
		var req struct {
			State string `json:"state"`
		}
		if !readJSON(&req) {
			return
		}
		if err := s.SetTenantState(req.State); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case path == "revoke" && r.Method == http.MethodPost:
		s.RevokeConsent()
		w.WriteHeader(http.StatusNoContent)
	case path == "expire-tickets" && r.Method == http.MethodPost:
		s.ExpireTickets()
		w.WriteHeader(http.StatusNoContent)
	case path == "token" && r.Method == http.MethodPost:
		// An access token of one associate, as that person's sign-in would give:
		// changes made with it are the person's own (webhook events name them in
		// ChangedByAssociateId), not the system user's.
		var req struct {
			Associate string `json:"associate"`
		}
		if !readJSON(&req) {
			return
		}
		if strings.TrimSpace(req.Associate) == "" {
			http.Error(w, `want {"associate": "login, e-mail or id"}`, http.StatusBadRequest)
			return
		}
		tok, err := s.TokenFor(req.Associate)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(accessLifetime.Seconds())})
	case path == "seed" && r.Method == http.MethodPost:
		var req struct {
			Account string `json:"account"`
			N       int    `json:"n"`
			Seed    int64  `json:"seed"`
		}
		if !readJSON(&req) {
			return
		}
		if err := s.SeedEvents(req.Account, req.N, req.Seed); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case path == "info" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]string{
			"context_id": s.opts.ContextID, "api": s.APIURL(requestBase(r)), "token": s.AdminToken(),
			"client_id": s.opts.ClientID, "time_zone": s.opts.TimeZone})
	default:
		http.Error(w, "unknown emulator route "+r.Method+" "+r.URL.Path, http.StatusNotFound)
	}
}
