package sotest

import "fmt"

// TokenFor issues an access token for an associate (login name, e-mail or
// id), as a sign-in of that person would: for tests that change a diary as its
// own user rather than as the system user (webhook events then name the user in
// ChangedByAssociateId).
func (s *Server) TokenFor(key string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.st.findAssociate(key)
	if a == nil || a.deleted {
		return "", fmt.Errorf("token for %q: no such associate", key)
	}
	now := s.now()
	s.pruneLocked(now)
	access := "8A:" + s.opts.ContextID + "." + randomToken(32)
	s.st.access[access] = &accessToken{assoc: a.id, expires: now.Add(accessLifetime)}
	return access, nil
}
