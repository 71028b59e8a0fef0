// Package mail owns every mail the daemon sends: the activation (welcome) mail to a
// link's mailbox, the "expired credentials" mail when a link's sign-in stops working,
// and the digest to the admin of links needing attention (at most once per 12 hours).
//
// It renders each mail from templates (text/template for the plain-text part,
// html/template for the HTML part) in the profile's language — en, no, sv, da, de,
// nl; anything else falls back to en — builds a multipart/alternative MIME message and
// hands it to SMTP (STARTTLS, AUTH PLAIN, timeouts, context cancellation).
//
// The daemon talks to a Mailer. Two implementations exist so callers never branch on
// whether an smtp block is configured: SMTPMailer sends real mail; LogMailer, used
// without an smtp block, logs the activation URL so an admin can hand it on (and
// `synchronizer activate` shows it). DigestScheduler decides when the admin digest is
// due and remembers the last one through a DigestStore, so a restart does not resend.
//
// The package depends on no other daemon package: what it needs from configuration
// and state is declared here as plain structs and small interfaces (SMTPConfig,
// Activation, LinkStatus, LinkSource, DigestStore, Clock) that the daemon adapts to.
//
// Secrets: the SMTP password never appears in logs, errors or String output, and the
// activation URL (which carries a single-use token) goes only into the mail to its
// recipient — never into the SMTPMailer's logs or errors, never into the admin digest.
// LogMailer is the one deliberate exception: without SMTP, logging the URL is the
// documented way to deliver it.
package mail
