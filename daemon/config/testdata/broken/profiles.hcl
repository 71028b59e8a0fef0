encryption { key_file = "key" }

superoffice "acme" {
  context_id    = "C"
  client_id     = "c"
  client_secret = env("SYNC_TEST_UNSET_VARIABLE")   # error: Error in function call
}

calendar "m365" "m" {
  tenant_id     = "t"
  client_id     = "c"
  client_secret = file("missing-secret.txt")        # error: Error in function call
}

profile "p" {
  superoffice = "acm"                  # error: Unknown superoffice block
  calendar    = "m"
  direction   = "sideways"             # error: Invalid direction
  interval    = "5 minutes"            # error: Invalid duration
  past        = "-1d"                  # error: Invalid duration
  future      = "0s"
  conflict    = "mine"                 # error: Invalid conflict
  private     = "hide"                 # error: Invalid private
  language    = "fr"                   # error: Invalid language
  interval2   = "x"                    # error: Unsupported argument

  user "jane" {
    associate = "JANE"
    mailbox   = "jane@acme.example"
  }
  user "jane2" {
    associate = "jane"                 # error: Linked twice
    mailbox   = "JANE@acme.example"    # error: Linked twice
  }
  resource "jane" {                    # error: Duplicate link
    resource = "Room"
    mailbox  = "room@acme.example"
  }
  resource "room2" {
    resource = "Room 2"
    mailbox  = "room 2@acme.example"   # error: Invalid mailbox
  }
  user "nobody" {                      # error: Missing associate | Missing mailbox
  }
  user "x" {
    associate = "X"
    mailbox   = "x@acme.example"
    colour    = "red"                  # error: Unsupported argument
  }
}

profile "q" {                          # error: Missing calendar
  superoffice = "acme"
  interval    = "0s"                   # error: Duration too short
}

profile "p" {                          # error: Duplicate profile
  superoffice = "acme"
  calendar    = "nope"                 # error: Unknown calendar block
}
