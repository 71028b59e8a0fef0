calendar "google" "gw" {
  service_account_file = "sa.json"
  admin                = "admin@acme.example"
}
calendar "m365" "m" {
  tenant_id     = "t"
  client_id     = "c"
  client_secret = file("secret.txt")
  endpoint      = "http://127.0.0.1:9001"
}
profile "b" {
  superoffice = "acme"
  calendar    = "gw"
  interval    = "90s"
  past        = "7d"
  future      = "1d12h"
  resource "room" {
    resource = "Room 1"
    mailbox  = "room@resource.example"
  }
  user "jane" {
    associate = "JANE"
    mailbox   = "jane@acme.example"
  }
}
profile "a" {
  superoffice = "acme"
  calendar    = "m"
  user "jane" {
    associate = "JANE"
    mailbox   = "jane@acme.example"
  }
}
