package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty/function"
)

// maxConfigFile bounds one configuration file.
const maxConfigFile = 4 << 20

// Options adjust Load; the zero value reads the process environment.
type Options struct {
	// Getenv looks up env() variables (os.LookupEnv when nil).
	Getenv func(string) (string, bool)
	// Builtins are the provider names served by the binary itself
	// (superoffice, m365, google when nil).
	Builtins []string
}

// Result is what Load returns besides the config: the diagnostics and the
// sources they point into, so they can be rendered with the offending lines.
type Result struct {
	Diags hcl.Diagnostics
	Files map[string]*hcl.File
}

// HasErrors reports whether any diagnostic is an error.
func (r *Result) HasErrors() bool { return r.Diags.HasErrors() }

// Load reads a configuration file, or every *.hcl file of a directory merged
// in name order, and checks it. The Config is nil when there are errors.
func Load(path string, opts Options) (*Config, *Result) {
	if opts.Getenv == nil {
		opts.Getenv = os.LookupEnv
	}
	if opts.Builtins == nil {
		opts.Builtins = []string{ProviderSuperOffice, ProviderM365, ProviderGoogle}
	}
	parser := hclparse.NewParser()
	res := &Result{}
	defer func() { res.Files = parser.Files() }()

	files, dir, err := configFiles(path)
	if err != nil {
		res.Diags = hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read configuration", Detail: err.Error()}}
		return nil, res
	}
	var bodies []*hcl.File
	for _, name := range files {
		f, diags := parseFile(parser, name)
		res.Diags = append(res.Diags, diags...)
		if f != nil {
			bodies = append(bodies, f)
		}
	}
	if res.Diags.HasErrors() {
		return nil, res // syntax errors first: checking a half-parsed file only adds noise
	}

	ctx := &hcl.EvalContext{Functions: map[string]function.Function{
		"env":  envFunc(opts.Getenv),
		"file": fileFunc(dir),
	}}
	var raw rawConfig
	res.Diags = append(res.Diags, dropFollowUps(gohcl.DecodeBody(hcl.MergeFiles(bodies), ctx, &raw))...)

	b := &builder{dir: dir, files: bodies, builtins: opts.Builtins}
	cfg := b.build(&raw)
	cfg.Files = files
	cfg.Dir = dir
	res.Diags = append(res.Diags, b.diags...)
	if res.Diags.HasErrors() {
		return nil, res
	}
	return cfg, res
}

// dropFollowUps removes the "value must be known" diagnostic gohcl adds after
// a failed function call in the same expression: the call's own error says it all.
func dropFollowUps(diags hcl.Diagnostics) hcl.Diagnostics {
	failed := map[hcl.Range]bool{}
	for _, d := range diags {
		if d.Subject != nil && d.Summary == "Error in function call" {
			failed[*d.Subject] = true
		}
	}
	out := diags[:0:0]
	for _, d := range diags {
		if d.Summary == "Unsuitable value type" && strings.Contains(d.Detail, "value must be known") && d.Subject != nil {
			if overlapsAny(*d.Subject, failed) {
				continue
			}
		}
		out = append(out, d)
	}
	return out
}

func overlapsAny(r hcl.Range, set map[hcl.Range]bool) bool {
	for f := range set {
		if f.Filename == r.Filename && f.Start.Byte < r.End.Byte && r.Start.Byte < f.End.Byte {
			return true
		}
	}
	return false
}

// configFiles lists the files a path names and the directory relative paths
// are resolved against.
func configFiles(path string) ([]string, string, error) {
	if path == "" {
		return nil, "", errors.New("no configuration path given")
	}
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("%s does not exist", path)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	if !info.IsDir() {
		return []string{path}, filepath.Dir(path), nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, "", fmt.Errorf("read directory %s: %w", path, err)
	}
	var files []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".hcl") && !strings.HasPrefix(e.Name(), ".") {
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, "", fmt.Errorf("directory %s holds no *.hcl files", path)
	}
	sort.Strings(files)
	return files, path, nil
}

// parseFile reads and parses one file, refusing binary content up front (HCL
// would report every byte of it).
func parseFile(p *hclparse.Parser, name string) (*hcl.File, hcl.Diagnostics) {
	src, err := os.ReadFile(name)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, fs.ErrPermission) {
			msg = fmt.Sprintf("cannot read %s: permission denied", name)
		}
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read configuration file", Detail: msg}}
	}
	if len(src) > maxConfigFile {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Configuration file too large",
			Detail: fmt.Sprintf("%s has %d bytes; a configuration file has at most %d", name, len(src), maxConfigFile)}}
	}
	if off := binaryOffset(src); off >= 0 {
		pos := position(src, off)
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Not a text file",
			Detail:  fmt.Sprintf("%s holds binary data (byte %d is not UTF-8 text); a configuration file is HCL text", name, off),
			Subject: &hcl.Range{Filename: name, Start: pos, End: pos}}}
	}
	return p.ParseHCL(src, name)
}

// binaryOffset is the offset of the first NUL or invalid UTF-8 byte, or -1.
func binaryOffset(src []byte) int {
	if i := bytes.IndexByte(src, 0); i >= 0 {
		if j := invalidUTF8(src[:i]); j >= 0 {
			return j
		}
		return i
	}
	return invalidUTF8(src)
}

func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

func position(src []byte, off int) hcl.Pos {
	line := 1 + bytes.Count(src[:off], []byte("\n"))
	col := off - bytes.LastIndexByte(src[:off], '\n')
	return hcl.Pos{Line: line, Column: col, Byte: off}
}

// The raw schema, decoded by gohcl. Each block keeps its body so that checks
// can point at the attribute they are about.
type rawConfig struct {
	DataDir     *string           `hcl:"data_dir,optional"`
	LogLevel    *string           `hcl:"log_level,optional"`
	LogFormat   *string           `hcl:"log_format,optional"`
	PluginDir   *string           `hcl:"plugin_dir,optional"`
	HTTP        *rawHTTP          `hcl:"http,block"`
	Encryption  *rawEncryption    `hcl:"encryption,block"`
	SMTP        *rawSMTP          `hcl:"smtp,block"`
	SuperOffice []*rawSuperOffice `hcl:"superoffice,block"`
	Calendars   []*rawCalendar    `hcl:"calendar,block"`
	Profiles    []*rawProfile     `hcl:"profile,block"`
	Plugins     []*rawPlugin      `hcl:"plugin,block"`
}

type rawHTTP struct {
	ConsentAddress *string   `hcl:"consent_address,optional"`
	AdminAddress   *string   `hcl:"admin_address,optional"`
	PublicURL      *string   `hcl:"public_url,optional"`
	Body           hcl.Body  `hcl:",body"`
	DefRange       hcl.Range `hcl:",def_range"`
}

type rawEncryption struct {
	KeyFile  *string   `hcl:"key_file,optional"`
	Body     hcl.Body  `hcl:",body"`
	DefRange hcl.Range `hcl:",def_range"`
}

type rawSMTP struct {
	Address  *string   `hcl:"address,optional"`
	From     *string   `hcl:"from,optional"`
	Admin    *string   `hcl:"admin,optional"`
	Username *string   `hcl:"username,optional"`
	Password *string   `hcl:"password,optional"`
	Body     hcl.Body  `hcl:",body"`
	DefRange hcl.Range `hcl:",def_range"`
}

type rawSuperOffice struct {
	Name           string    `hcl:"name,label"`
	ContextID      *string   `hcl:"context_id,optional"`
	Environment    *string   `hcl:"environment,optional"`
	ClientID       *string   `hcl:"client_id,optional"`
	ClientSecret   *string   `hcl:"client_secret,optional"`
	PartnerKeyFile *string   `hcl:"partner_key_file,optional"`
	BaseURL        *string   `hcl:"base_url,optional"`
	Username       *string   `hcl:"username,optional"`
	Password       *string   `hcl:"password,optional"`
	Endpoint       *string   `hcl:"endpoint,optional"`
	Resources      *bool     `hcl:"resources,optional"`
	UserLicenses   *int      `hcl:"user_licenses,optional"`
	Body           hcl.Body  `hcl:",body"`
	DefRange       hcl.Range `hcl:",def_range"`
	NameRange      hcl.Range `hcl:"name,label_range"`
}

type rawCalendar struct {
	Provider           string            `hcl:"provider,label"`
	Name               string            `hcl:"name,label"`
	TenantID           *string           `hcl:"tenant_id,optional"`
	ClientID           *string           `hcl:"client_id,optional"`
	ClientSecret       *string           `hcl:"client_secret,optional"`
	Auth               *string           `hcl:"auth,optional"`
	ServiceAccountFile *string           `hcl:"service_account_file,optional"`
	Admin              *string           `hcl:"admin,optional"`
	Endpoint           *string           `hcl:"endpoint,optional"`
	Settings           map[string]string `hcl:"settings,optional"`
	Body               hcl.Body          `hcl:",body"`
	DefRange           hcl.Range         `hcl:",def_range"`
	ProviderRange      hcl.Range         `hcl:"provider,label_range"`
	NameRange          hcl.Range         `hcl:"name,label_range"`
}

type rawPlugin struct {
	Name      string    `hcl:"name,label"`
	SHA256    *string   `hcl:"sha256,optional"`
	Body      hcl.Body  `hcl:",body"`
	DefRange  hcl.Range `hcl:",def_range"`
	NameRange hcl.Range `hcl:"name,label_range"`
}

type rawProfile struct {
	Name        string         `hcl:"name,label"`
	SuperOffice *string        `hcl:"superoffice,optional"`
	Calendar    *string        `hcl:"calendar,optional"`
	Direction   *string        `hcl:"direction,optional"`
	Interval    *string        `hcl:"interval,optional"`
	Push        *bool          `hcl:"push,optional"`
	Reconcile   *string        `hcl:"reconcile,optional"`
	Past        *string        `hcl:"past,optional"`
	Future      *string        `hcl:"future,optional"`
	Conflict    *string        `hcl:"conflict,optional"`
	Private     *string        `hcl:"private,optional"`
	Language    *string        `hcl:"language,optional"`
	Message     *string        `hcl:"message,optional"`
	Users       []*rawUser     `hcl:"user,block"`
	Resources   []*rawResource `hcl:"resource,block"`
	Body        hcl.Body       `hcl:",body"`
	DefRange    hcl.Range      `hcl:",def_range"`
	NameRange   hcl.Range      `hcl:"name,label_range"`
}

type rawUser struct {
	Name      string    `hcl:"name,label"`
	Associate *string   `hcl:"associate,optional"`
	Mailbox   *string   `hcl:"mailbox,optional"`
	Disabled  *bool     `hcl:"disabled,optional"`
	Body      hcl.Body  `hcl:",body"`
	DefRange  hcl.Range `hcl:",def_range"`
	NameRange hcl.Range `hcl:"name,label_range"`
}

type rawResource struct {
	Name      string    `hcl:"name,label"`
	Resource  *string   `hcl:"resource,optional"`
	Mailbox   *string   `hcl:"mailbox,optional"`
	Disabled  *bool     `hcl:"disabled,optional"`
	Body      hcl.Body  `hcl:",body"`
	DefRange  hcl.Range `hcl:",def_range"`
	NameRange hcl.Range `hcl:"name,label_range"`
}

// attrs returns the attributes written in a block's body (nil for a body that
// did not come from native syntax).
func attrs(body hcl.Body) hclsyntax.Attributes {
	if b, ok := body.(*hclsyntax.Body); ok {
		return b.Attributes
	}
	return nil
}

// written reports whether the attribute appears in the body, whatever its value
// evaluated to (an env() error is reported once, not again as "missing").
func written(body hcl.Body, name string) bool {
	_, ok := attrs(body)[name]
	return ok
}

// attrRange points at an attribute's value, or at fallback when it is absent.
func attrRange(body hcl.Body, name string, fallback hcl.Range) *hcl.Range {
	if a, ok := attrs(body)[name]; ok {
		r := a.Expr.Range()
		return &r
	}
	return &fallback
}

// topAttrRange finds a top-level attribute in whichever file sets it.
func topAttrRange(files []*hcl.File, name string) *hcl.Range {
	for _, f := range files {
		if a, ok := attrs(f.Body)[name]; ok {
			r := a.Expr.Range()
			return &r
		}
	}
	return nil
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func strOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

// AdminAddress reads only http.admin_address from a configuration, for
// commands that talk to a running daemon: it ignores everything else, so an
// unset secret's env() does not stop `synchronizer status`. It returns the
// default when the configuration does not set it.
func AdminAddress(path string, opts Options) (string, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.LookupEnv
	}
	files, dir, err := configFiles(path)
	if err != nil {
		return "", err
	}
	parser := hclparse.NewParser()
	ctx := &hcl.EvalContext{Functions: map[string]function.Function{"env": envFunc(opts.Getenv), "file": fileFunc(dir)}}
	addr := DefaultAdminAddress
	for _, name := range files {
		f, diags := parseFile(parser, name)
		if diags.HasErrors() {
			return "", fmt.Errorf("%s: %s", name, diags.Error())
		}
		content, _, _ := f.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "http"}}})
		for _, b := range content.Blocks {
			attrs, _ := b.Body.JustAttributes()
			if a, ok := attrs["admin_address"]; ok {
				var v string
				if diags := gohcl.DecodeExpression(a.Expr, ctx, &v); diags.HasErrors() {
					return "", fmt.Errorf("%s: %s", name, diags.Error())
				}
				addr = v
			}
		}
	}
	return addr, nil
}
