# Synchronizer configuration: the commented reference of every option.
#
# Load one file or a directory of *.hcl files (merged in name order):
#   synchronizer validate -config /etc/synchronizer/        # check, exit 0 or 1
#   synchronizer run      -config /etc/synchronizer/        # the daemon
#
# Functions usable in every string:
#   env("NAME")             the environment variable NAME; an error when it is unset
#   env("NAME", "default")  ... or the default when it is unset
#   file("path")            the text of a file (up to 1 MiB)
# Relative paths (here and in file()) are relative to the directory of the
# configuration. Durations are Go durations plus days: "90s", "5m", "1h30m", "30d".
#
# This example validates as it is: the env() calls below carry defaults so that
# it runs as a demo. In production drop the defaults of secrets, so a forgotten
# variable stops the daemon instead of becoming a placeholder.

# Where the state store lives (bbolt file state.db; the directory is kept at
# mode 0700). Default: "/var/lib/synchronizer".
data_dir = env("SYNCHRONIZER_DATA_DIR", "/var/lib/synchronizer")

log_level  = "info" # debug | info | warn | error   (default "info"; a reload applies it)
log_format = "text" # text | json                    (default "text"; read at start)

# Where external provider plugins live: executables named
# synchronizer-plugin-NAME, used by calendar "NAME" blocks.
# Default: "/usr/lib/synchronizer/plugins".
plugin_dir = "/usr/lib/synchronizer/plugins"

http {
  # Activation pages and the OAuth callback. Put a TLS proxy in front of it.
  # Default "127.0.0.1:8420".
  consent_address = "127.0.0.1:8420"
  # /healthz /readyz /metrics /v1/... — no authentication: never expose it.
  # Default "127.0.0.1:8421".
  admin_address = "127.0.0.1:8421"
  # Public base of activation links and OAuth redirect URIs (what the proxy
  # serves). Default: "http://" + consent_address.
  # Written here, it also turns on push: Microsoft Graph, Google and SuperOffice
  # POST change notifications to public_url/notify/... (HTTPS with a valid
  # certificate, reachable from the internet), so a change syncs within seconds.
  # Without it, links are polled at their interval only.
  public_url = "https://sync.example.com"
}

# Required. OAuth tokens are encrypted at rest (AES-256-GCM) with this key:
# 32 random bytes (or 64 hex digits, or their base64). Make one with
#   synchronizer keygen -out /etc/synchronizer/key      (mode 0600, never overwrites)
# or: head -c 32 /dev/urandom > /etc/synchronizer/key
# Losing the key means every link must consent again; keep a backup.
encryption {
  key_file = env("SYNCHRONIZER_KEY_FILE", "/etc/synchronizer/key")
}

# Optional. Without it, activation URLs are only shown by
# `synchronizer status` / `synchronizer activate`.
smtp {
  address  = "smtp.example.com:587"             # host:port; STARTTLS is used when offered
  from     = "Synchronizer <sync@example.com>"
  admin    = "it-ops@example.com"               # digest of links needing attention, at most every 12 h
  username = env("SMTP_USER", "sync@example.com") # username and password: both or neither
  password = env("SMTP_PASSWORD", "")
}

# One SuperOffice tenant. The name is used by profiles and by
# `synchronizer connect acme`; superoffice and calendar names are unique together.
# Names: letters, digits, '-', '_', '.', up to 64 characters.
superoffice "acme" {
  # SuperOffice CRM Online: an admin consents once on the consent listener
  # (synchronizer connect acme); the daemon then works as the tenant's system user.
  context_id    = "Cust12345"
  environment   = "online"                   # online | stage | sod (default "online")
  client_id     = "0123456789abcdef0123456789abcdef"
  client_secret = env("SO_CLIENT_SECRET", "") # also the application token
  # The partner's private key (PEM) that signs the system-user token:
  # partner_key_file = "/etc/synchronizer/so-partner.pem"

  # Onsite instead of context_id/environment/client_*/partner_key_file:
  #   base_url = "https://crm.acme.local/SuperOffice"
  #   username = "SYNC"
  #   password = env("SO_PASSWORD")

  # Resource sync (rooms, equipment) on: adds exactly 5 licences to the
  # tenant's user licences. A resource link needs it. Default false.
  resources = true

  # Overrides the user-licence count read from the tenant (onsite, testing).
  # Licences are counted per tenant over all of its profiles; disabled links
  # take none. Without it `validate` cannot check the cap: it is checked at
  # run time, hourly and on reload.
  # user_licenses = 50

  # Rarely needed: the service's root URL instead of the real host (sovereign
  # clouds, the built-in emulators, testing).
  # endpoint = "http://127.0.0.1:9000"
}

# A Microsoft 365 tenant. The first label is the provider: m365, google, or
# NAME for an external plugin synchronizer-plugin-NAME in plugin_dir.
calendar "m365" "acme365" {
  tenant_id     = "00000000-0000-0000-0000-000000000000"
  client_id     = "11111111-1111-1111-1111-111111111111"
  client_secret = env("M365_CLIENT_SECRET", "")
  # delegated: each mailbox consents through its activation link (default);
  # application: an admin grants access once (synchronizer connect acme365).
  auth = "delegated"
  # Rarely needed: root URL of Microsoft Graph and its sign-in.
  # endpoint = "http://127.0.0.1:9001"
}

# A Google Workspace domain.
calendar "google" "acmegw" {
  client_id     = "1234567890-abc.apps.googleusercontent.com"
  client_secret = env("GOOGLE_CLIENT_SECRET", "")
  # Resource calendars are reached through one admin connection
  # (synchronizer connect acmegw). Domain-wide delegation instead:
  # service_account_file = "/etc/synchronizer/gw-sa.json"
  # admin                = "admin@acme.example"   # whom the service account acts as
  # Rarely needed: root URL of the Calendar API and its sign-in.
  # endpoint = "http://127.0.0.1:9002"
}

# An external provider plugin takes client_id, client_secret, endpoint and a
# map of plain strings handed to it as they are:
# calendar "caldav" "office" {
#   endpoint = "https://dav.example.com"
#   settings = { principal = "/principals/" }
# }
#
# Rarely needed: pin an external plugin's executable; a different file is
# refused (sha256sum /usr/lib/synchronizer/plugins/synchronizer-plugin-caldav).
# plugin "caldav" {
#   sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
# }

# A profile pairs one tenant with one calendar system.
profile "acme-365" {
  superoffice = "acme"
  calendar    = "acme365"
  direction   = "two-way"   # two-way | to-calendar | to-superoffice (default "two-way")
  interval    = "5m"        # poll interval (default "5m"; push, where set up, comes sooner)
  push        = true        # change notifications when http.public_url is set (default true)
  reconcile   = "3h"        # read both sides in full this often, to catch what notifications
                            # and change feeds missed (default "3h"; at least "10m"; "0" = off)
  past        = "30d"       # sync window behind now (default "30d")
  future      = "365d"      # sync window ahead of now (default "365d")
  conflict    = "newest"    # both sides changed: newest | superoffice | calendar (default "newest")
  private     = "busy"      # private SuperOffice appointments: sync | busy | skip (default "busy")
  language    = "en"        # activation mails: en no sv da de nl (default "en")
  message     = "Questions? Call the helpdesk on 1234."   # added to every activation mail

  # A link: one SuperOffice user and one mailbox. Each takes one licence.
  # Link names are unique within the profile; an associate or mailbox is
  # linked at most once per profile.
  user "jane" {
    associate = "JANE"                 # SuperOffice login name or associate id
    mailbox   = "jane@acme.example"
  }
  user "bob" {
    associate = "BOB"
    mailbox   = "bob@acme.example"
    disabled  = true                   # kept but not synced, takes no licence (default false)
  }
  resource "room1" {
    resource = "Meeting room 1"        # SuperOffice resource name or id
    mailbox  = "room1@acme.example"    # M365: a resource mailbox that can sign in;
  }                                    # Google: the resource calendar id
}

profile "acme-google" {
  superoffice = "acme"
  calendar    = "acmegw"
  user "jane" {
    associate = "JANE.GW"
    mailbox   = "jane@acme-gw.example"
  }
}
