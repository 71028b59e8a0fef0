# A block with an error still resolves references: one problem, one diagnostic.
encryption { key_file = "key" }

superoffice "bad name" {                # error: Invalid name
  context_id    = "C"
  client_id     = "c"
  client_secret = "s"
}

calendar "exchange" "ex" {              # error: Unknown provider
}

profile "p" {
  superoffice = "bad name"
  calendar    = "ex"
}
