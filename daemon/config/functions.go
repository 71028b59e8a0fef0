package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// maxFileFunc bounds what file() reads: it is for keys, certificates and
// service-account JSON, not for data.
const maxFileFunc = 1 << 20

// envFunc is env("NAME") or env("NAME", "default"). An unset variable without
// a default is an error, so a forgotten secret never becomes an empty string.
func envFunc(getenv func(string) (string, bool)) function.Function {
	return function.New(&function.Spec{
		Description: "The value of an environment variable.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam:    &function.Parameter{Name: "default", Type: cty.String},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 2 {
				return cty.NilVal, function.NewArgErrorf(2, "env takes a name and at most one default")
			}
			name := args[0].AsString()
			if name == "" {
				return cty.NilVal, function.NewArgErrorf(0, "the variable name is empty")
			}
			if v, ok := getenv(name); ok {
				return cty.StringVal(v), nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return cty.NilVal, fmt.Errorf("environment variable %s is not set (set it, or give a default: env(%q, \"...\"))", name, name)
		},
	})
}

// fileFunc is file("path"): the text of a file, relative to the config's directory.
func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "The contents of a text file, relative to the configuration's directory.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			text, err := readTextFile(resolvePath(dir, args[0].AsString()))
			if err != nil {
				return cty.NilVal, err
			}
			return cty.StringVal(text), nil
		},
	})
}

// resolvePath makes a relative path relative to dir.
func resolvePath(dir, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// readTextFile reads a small UTF-8 file, with errors that say what to fix.
func readTextFile(path string) (string, error) {
	if path == "" {
		return "", errors.New("the file name is empty")
	}
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("file %s does not exist", path)
	case errors.Is(err, fs.ErrPermission):
		return "", fmt.Errorf("cannot read %s: permission denied", path)
	case err != nil:
		return "", fmt.Errorf("cannot read %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileFunc+1))
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %w", path, err)
	}
	if len(b) > maxFileFunc {
		return "", fmt.Errorf("%s is larger than %d bytes", path, maxFileFunc)
	}
	if !utf8.Valid(b) || strings.ContainsRune(string(b), 0) {
		return "", fmt.Errorf("%s is not a text file", path)
	}
	return string(b), nil
}

// ParseDuration parses Go duration syntax ("90s", "5m", "1h30m") with an
// added day unit: "30d", "1d12h". Negative durations are refused.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration")
	}
	var d time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		days, err := strconv.ParseUint(s[:i], 10, 32)
		if err != nil || days > 100*366 {
			return 0, fmt.Errorf("invalid duration %q: want a whole number of days before \"d\", like \"30d\"", orig)
		}
		d = time.Duration(days) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return d, nil
		}
	}
	rest, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use a number with a unit: s, m, h or d (like \"5m\", \"30d\")", orig)
	}
	if rest < 0 || strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", orig)
	}
	return d + rest, nil
}
