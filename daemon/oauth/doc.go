// Package oauth owns consent: activation links, the OAuth authorization code
// flow with PKCE, the admin setups that grant tenant-level access, and every
// token the daemon holds afterwards.
//
// One *Service does it all, for the configuration in force:
//
//   - As runner.Activations it issues activation links (256-bit random, single
//     use, 7 days by default, stored hashed) and sends the activation and
//     "expired credentials" mails through daemon/mail.
//   - As web.ConsentFlow it drives the consent listener's pages: the activation
//     page, the redirect to the provider's sign-in (S256 PKCE whenever the
//     provider allows it, a random state bound to the activation and to the
//     browser by a cookie, login_hint), and the callback that exchanges the code
//     with golang.org/x/oauth2, asks the provider who signed in, checks that it is
//     the linked mailbox (or an admin managing a Google resource calendar), stores
//     the tokens sealed, marks the link active, consumes the activation and
//     starts the first sync. A failure changes nothing and becomes a page.
//   - As runner.Credentials it hands plugins the access token of a link or
//     connection (never a refresh token), refreshing in the host one request at a
//     time per token and persisting rotated refresh tokens; invalid_grant becomes
//     sdk.ErrConsentRevoked and is remembered, so a dead grant never turns into a
//     storm of token requests. Tenant-level credentials come from client
//     credentials (Microsoft 365 application auth), the SuperOffice system user's
//     system_token, or nothing (providers that sign for themselves).
//   - Mount adds the admin routes that issue activation and setup links
//     (`synchronizer activate`, `synchronizer connect`).
//
// Setups (`GET /setup/{name}`) carry no secret in their URL, so a setup only
// works while an admin has opened it through the admin API (OpenSetup), for the
// activation lifetime and once; the account must be an administrator.
//
// Secrets: tokens, client secrets, activation secrets and codes never reach logs,
// errors, metrics or pages. The one deliberate exception is daemon/mail's
// LogMailer, which logs an activation URL when no smtp block exists, because then
// the log is the only way the URL reaches anyone.
//
// The package must not import a concrete provider: providers come through the
// Providers interface (the plugin host).
package oauth
