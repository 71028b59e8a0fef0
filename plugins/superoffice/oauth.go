package superoffice

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice/internal/wire"
)

// OAuth implements sdk.Provider. Online tenants use SuperID's OpenID Connect
// (scope openid only, PKCE, the tenant named in acr_values); an administrator's
// consent (PurposeAdmin) yields the system token. Onsite installations need no
// token from the host.
func (p *Provider) OAuth(ctx context.Context, req sdk.OAuthRequest) (sdk.OAuthSpec, error) {
	in, err := p.instance(req.Instance)
	if err != nil {
		return sdk.OAuthSpec{}, err
	}
	if in.onsite {
		return sdk.OAuthSpec{Grant: sdk.GrantNone}, nil
	}
	if in.clientID == "" {
		return sdk.OAuthSpec{}, fmt.Errorf("superoffice %s: client_id is required for sign-in: %w", in.name, sdk.ErrInvalidArgument)
	}
	params := map[string]string{"acr_values": "tenant:" + in.contextID, "response_mode": "query"}
	if req.LoginHint != "" {
		params["login_hint"] = req.LoginHint
	}
	return sdk.OAuthSpec{
		Grant:        sdk.GrantAuthorizationCode,
		AuthURL:      in.root + "/login/common/oauth/authorize",
		TokenURL:     in.root + "/login/common/oauth/tokens",
		ClientID:     in.clientID,
		ClientSecret: in.clientSecret,
		Scopes:       []string{"openid"},
		Params:       params,
		PKCE:         true,
	}, nil
}

// Identify implements sdk.Provider: the account comes from the id_token's
// SuperOffice claims (associate id, e-mail, administrator flag, system token),
// else from User/currentPrincipal. A token for another tenant is refused.
func (p *Provider) Identify(ctx context.Context, t sdk.Target, tok sdk.TokenInfo) (sdk.Account, error) {
	in, err := p.instance(t.Instance)
	if err != nil {
		return sdk.Account{}, err
	}
	if tok.IDToken != "" {
		claims, err := jwtClaims(tok.IDToken)
		if err != nil {
			return sdk.Account{}, fmt.Errorf("identify: id_token: %w", sdk.ErrInvalidArgument)
		}
		str := func(k string) string {
			switch v := claims[k].(type) {
			case string:
				return v
			case float64:
				return strconv.FormatInt(int64(v), 10)
			case bool:
				return strconv.FormatBool(v)
			}
			return ""
		}
		if ctxID := str(claimPrefix + "ctx"); ctxID != "" && !strings.EqualFold(ctxID, in.contextID) {
			return sdk.Account{}, fmt.Errorf("identify: the sign-in was for tenant %s, not %s: %w", ctxID, in.contextID, sdk.ErrPermissionDenied)
		}
		if aud := str("aud"); aud != "" && in.clientID != "" && aud != in.clientID {
			return sdk.Account{}, fmt.Errorf("identify: id_token is for another application: %w", sdk.ErrPermissionDenied)
		}
		if exp, ok := claims["exp"].(float64); ok && time.Unix(int64(exp), 0).Before(in.now().Add(-5*time.Minute)) {
			return sdk.Account{}, fmt.Errorf("identify: id_token expired: %w", sdk.ErrUnauthenticated)
		}
		id := str(claimPrefix + "associateid")
		if id != "" {
			acct := sdk.Account{ID: id, Email: firstNonEmpty(str(claimPrefix+"email"), str(claimPrefix+"upn"), str("sub")),
				Kind: sdk.AccountUser, IsAdmin: strings.EqualFold(str(claimPrefix+"is_administrator"), "true")}
			if st := str(claimPrefix + "system_token"); st != "" {
				acct.Extra = map[string]string{"system_token": st}
			}
			if tok.AccessToken != "" {
				t.Credential = sdk.Credential{Type: "bearer", Token: tok.AccessToken}
				if d, err := p.lookupByID(ctx, in, t, id); err == nil {
					acct.Name = firstNonEmpty(d.full, d.name)
					if acct.Email == "" {
						acct.Email = d.email
					}
				}
			}
			return acct, nil
		}
	}
	if tok.AccessToken == "" {
		return sdk.Account{}, fmt.Errorf("identify: neither an id_token nor an access token: %w", sdk.ErrInvalidArgument)
	}
	t.Credential = sdk.Credential{Type: "bearer", Token: tok.AccessToken}
	var pr wire.SoPrincipalCarrier
	if _, err := in.get(ctx, t, "/v1/User/currentPrincipal", nil, &pr); err != nil {
		return sdk.Account{}, fmt.Errorf("identify: %w", err)
	}
	if pr.AssociateId == 0 {
		return sdk.Account{}, fmt.Errorf("identify: the token belongs to no associate: %w", sdk.ErrPermissionDenied)
	}
	return sdk.Account{ID: strconv.Itoa(pr.AssociateId), Email: pr.EMailAddress, Name: pr.FullName, Kind: sdk.AccountUser,
		IsAdmin: strings.Contains(strings.ToLower(pr.RoleName), "admin")}, nil
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
