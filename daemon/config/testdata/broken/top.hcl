# Every line with an "error:" marker must get exactly that diagnostic.
data_dir   = ""            # error: Empty data_dir
log_level  = "loud"        # error: Invalid log_level
log_format = "xml"         # error: Invalid log_format
colour     = "blue"        # error: Unsupported argument

http {
  consent_address = "localhost"        # error: Invalid consent_address
  admin_address   = "127.0.0.1:70000"  # error: Invalid admin_address
  public_url      = "sync.example.com" # error: Invalid public_url
}

encryption {                           # error: Missing key_file
}

smtp {                                 # error: Missing from | Incomplete SMTP credentials
  address  = "smtp.example.com"        # error: Invalid smtp address
  admin    = "not a mail address"      # error: Invalid admin address
  username = "u"
}                                      
