package superoffice

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice/internal/wire"
)

// A ticket lasts six hours after its last use; renew well before, so a ticket
// never lapses between two calls of a sync run.
const ticketReuse = 5 * time.Hour

const claimPrefix = "http://schemes.superoffice.net/identity/"

type ticketEntry struct {
	ticket   string
	lastUsed time.Time
}

func tokenKey(systemToken string) string {
	sum := sha256.Sum256([]byte(systemToken))
	return hex.EncodeToString(sum[:])
}

// ticket returns a system-user ticket for the tenant, from the cache or by
// signing the system token with the partner key and exchanging it.
func (in *instance) ticket(ctx context.Context, systemToken string) (string, error) {
	if in.onsite {
		return "", fmt.Errorf("the system-user flow exists only online: %w", sdk.ErrInvalidArgument)
	}
	if systemToken == "" {
		return "", fmt.Errorf("empty system token: %w", sdk.ErrConsentRevoked)
	}
	key := tokenKey(systemToken)
	now := in.now()
	in.mu.Lock()
	if e := in.cache.tickets[key]; e != nil && now.Sub(e.lastUsed) < ticketReuse {
		e.lastUsed = now
		in.mu.Unlock()
		return e.ticket, nil
	}
	in.mu.Unlock()
	if in.partnerKey == nil {
		return "", fmt.Errorf("system user for tenant %s: no partner_key configured: %w", in.contextID, sdk.ErrInvalidArgument)
	}
	signed, err := signSystemToken(systemToken, in.partnerKey, now)
	if err != nil {
		return "", err
	}
	var resp wire.SystemUserResponse
	_, err = in.once(ctx, sdk.Target{}, request{method: http.MethodPost, path: "/Login/api/PartnerSystemUser/Authenticate",
		abs: in.root + "/Login/api/PartnerSystemUser/Authenticate", noAuth: true, out: &resp,
	}, mustJSON(wire.SystemUserRequest{SignedSystemToken: signed, ApplicationToken: in.clientSecret,
		ContextIdentifier: in.contextID, ReturnTokenType: "JWT"}))
	if err != nil {
		return "", fmt.Errorf("system user for tenant %s: %w", in.contextID, err)
	}
	if !resp.IsSuccessful {
		msg := "refused"
		if resp.ErrorMessage != nil && *resp.ErrorMessage != "" {
			msg = *resp.ErrorMessage
		}
		return "", fmt.Errorf("system user for tenant %s refused: %s: %w", in.contextID, truncate(msg, 200), sdk.ErrConsentRevoked)
	}
	tk, err := ticketFromToken(resp.Token)
	if err != nil {
		return "", fmt.Errorf("system user for tenant %s: %w", in.contextID, err)
	}
	in.mu.Lock()
	if in.cache.tickets == nil {
		in.cache.tickets = map[string]*ticketEntry{}
	}
	in.cache.tickets[key] = &ticketEntry{ticket: tk, lastUsed: now}
	in.mu.Unlock()
	in.logger.Debug("system user ticket obtained", "context_id", in.contextID)
	return tk, nil
}

func (in *instance) dropTicket(systemToken string) {
	in.mu.Lock()
	delete(in.cache.tickets, tokenKey(systemToken))
	in.mu.Unlock()
}

// signSystemToken builds "{token}.{yyyyMMddHHmm}.{base64(RSA-SHA256)}".
func signSystemToken(token string, key *rsa.PrivateKey, now time.Time) (string, error) {
	data := token + "." + now.UTC().Format("200601021504")
	sum := sha256.Sum256([]byte(data))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign system token: %w", err)
	}
	return data + "." + base64.StdEncoding.EncodeToString(sig), nil
}

// ticketFromToken reads the ticket claim of the JWT the exchange returns. The JWT
// comes straight from the login host over TLS in answer to our own request, so
// its claims are taken as they are; the signature is not checked against keys
// we would have to fetch from the same host.
func ticketFromToken(token string) (string, error) {
	if strings.HasPrefix(token, "7T:") {
		return token, nil
	}
	claims, err := jwtClaims(token)
	if err != nil {
		return "", fmt.Errorf("system user token: %w", err)
	}
	tk, _ := claims[claimPrefix+"ticket"].(string)
	if tk == "" {
		return "", fmt.Errorf("system user token has no ticket claim")
	}
	return tk, nil
}

// jwtClaims decodes a JWT's payload without verifying it.
func jwtClaims(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("JWT payload: %w", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return nil, fmt.Errorf("JWT payload: %w", err)
	}
	return claims, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("superoffice: encode %T: %v", v, err))
	}
	return b
}
