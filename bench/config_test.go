package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sampleConfig = `data_dir = "/tmp/x-data"

http {
  consent_address = "127.0.0.1:42985"
  admin_address   = "127.0.0.1:34189"
  public_url      = "http://127.0.0.1:42985"
}

superoffice "emu" {
  context_id = "Cust1"
}

calendar "m365" "emu365" {
  tenant_id = "t"
}

calendar "google" "emugw" {
  client_id = "c"
}

profile "emu-m365" {
  superoffice = "emu"
  calendar    = "emu365"

  user "user1" {
    associate = "USER1"
    mailbox   = "user1@m365.test"
  }
  resource "room1" {
    resource = "ROOM1"
    mailbox  = "room1@m365.test"
  }
}

profile "emu-google" {
  superoffice = "emu"
  calendar    = "emugw"

  user "user1" {
    associate = "USER1"
    mailbox   = "user1@google.test"
  }
}
`

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.hcl")
	if err := os.WriteFile(path, []byte(sampleConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := readConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.AdminAddress != "127.0.0.1:34189" || c.ConsentAddress != "127.0.0.1:42985" {
		t.Errorf("addresses %q %q", c.AdminAddress, c.ConsentAddress)
	}
	links, err := c.links()
	if err != nil {
		t.Fatal(err)
	}
	want := []configLink{
		{Profile: "emu-m365", Link: "user1", Kind: "user", Associate: "USER1", Mailbox: "user1@m365.test", Calendar: sideM365},
		{Profile: "emu-m365", Link: "room1", Kind: "resource", Associate: "ROOM1", Mailbox: "room1@m365.test", Calendar: sideM365},
		{Profile: "emu-google", Link: "user1", Kind: "user", Associate: "USER1", Mailbox: "user1@google.test", Calendar: sideGoogle},
	}
	if len(links) != len(want) {
		t.Fatalf("links %+v", links)
	}
	for i := range want {
		if links[i] != want[i] {
			t.Errorf("link %d: %+v, want %+v", i, links[i], want[i])
		}
	}
	if err := c.adjust("30s", "warn", []string{"emu-google"}); err != nil {
		t.Fatal(err)
	}
	c.setPush(false)
	out := filepath.Join(dir, "out.hcl")
	if err := c.write(out); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	text := strings.Join(strings.Fields(string(b)), " ")
	for _, s := range []string{`log_level = "warn"`, `interval = "30s"`, `push = false`, `profile "emu-google"`} {
		if !strings.Contains(text, s) {
			t.Errorf("written configuration lacks %s:\n%s", s, text)
		}
	}
	if strings.Contains(text, `profile "emu-m365"`) {
		t.Error("the dropped profile is still there")
	}
	if err := c.adjust("", "", []string{"nope"}); err == nil {
		t.Error("keeping no profile was accepted")
	}
	if info, _ := os.Stat(out); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v: the configuration holds secrets", info.Mode().Perm())
	}
}

func TestConfigErrors(t *testing.T) {
	cases := map[string]string{
		"no http block":    `data_dir = "x"`,
		"address not text": "http {\n  admin_address = 5\n  consent_address = \"a\"\n}\n",
		"not HCL":          "http {",
	}
	for name, text := range cases {
		path := filepath.Join(t.TempDir(), "c.hcl")
		os.WriteFile(path, []byte(text), 0o600)
		if _, err := readConfig(path); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
