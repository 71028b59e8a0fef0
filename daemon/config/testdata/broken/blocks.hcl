encryption { key_file = "key" }

superoffice "acme" {                    # error: Missing client_secret
  context_id  = "Cust1"
  client_id   = "c"
  environment = "production"            # error: Invalid environment
  username    = "SYNC"                  # error: Onsite attribute on an online tenant
  endpoint    = "127.0.0.1:9000"        # error: Invalid endpoint
  user_licenses = -1                    # error: Invalid user_licenses
  partner_key_file = "no-such.pem"      # error: Cannot read partner_key_file
}

superoffice "onsite" {                  # error: Missing password
  base_url   = "https://crm.local/SO"
  username   = "SYNC"
  context_id = "Cust2"                  # error: Online attribute on an onsite tenant
}

superoffice "bad name!" {               # error: Invalid name
  context_id    = "C"
  client_id     = "c"
  client_secret = "s"
}

calendar "m365" "acme" {                # error: Duplicate name | Missing tenant_id
  client_id     = "c"
  client_secret = "s"
  auth          = "sometimes"           # error: Invalid auth
  admin         = "a@b.c"               # error: Attribute not used by this provider
}

calendar "google" "gw" {                # error: Missing admin
  service_account_file = "sa.txt"       # error: Invalid service_account_file
}

calendar "exchange" "ex" {              # error: Unknown provider
}

calendar "superoffice" "so" {           # error: Wrong block for SuperOffice
}

plugin "m365" {                         # error: Built-in provider pinned
  sha256 = "00"
}

plugin "caldav" {
  sha256 = "xyz"                        # error: Invalid sha256
}

plugin "caldav" {                       # error: Duplicate plugin block
  sha256 = "xyz"
}

unknown_block "x" {                     # error: Unsupported block type
}
