data_dir = "state"
encryption { key_file = "key" }
superoffice "acme" {
  context_id    = "C"
  client_id     = "c"
  client_secret = env("SYNC_TEST_SECRET", "fallback")
  partner_key_file = "partner.pem"
  resources     = true
}
