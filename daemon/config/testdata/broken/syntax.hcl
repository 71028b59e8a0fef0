encryption { key_file = "key" }
profile "p" {
  superoffice = "acme"
  calendar =                           # error: Invalid expression
}
