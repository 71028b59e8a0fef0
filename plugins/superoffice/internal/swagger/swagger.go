// Package swagger validates WebAPI responses against SuperOffice's official
// OpenAPI (Swagger 2.0) descriptions, embedded from openapi/ (MIT licence, see
// openapi/LICENSE). Tests use it to pin the emulator's bodies to the real field
// names, types and enums; it is not linked into the daemon.
//
// Validation is strict where drift would hurt: a property the definition does
// not have, a wrong JSON type, an enum value outside the list, a date that does
// not parse, an integer outside int32 all fail. It is lenient where the server
// is: any value may be null except numbers and booleans, and the flags enum
// RecurrenceWeekPattern.Weekdays may combine names ("Monday, Wednesday").
package swagger

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"synchronizer/plugins/superoffice/internal/wire"
)

//go:embed openapi/*.json
var files embed.FS

// Spec is the merged set of descriptions.
type Spec struct {
	defs map[string]map[string]any
	ops  []op
}

type op struct {
	method    string
	segs      []string
	literals  int
	template  string
	responses map[string]any
}

// Load reads every embedded description.
func Load() (*Spec, error) {
	s := &Spec{defs: map[string]map[string]any{}}
	entries, err := files.ReadDir("openapi")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := files.ReadFile("openapi/" + e.Name())
		if err != nil {
			return nil, err
		}
		var doc struct {
			Paths       map[string]map[string]map[string]any `json:"paths"`
			Definitions map[string]map[string]any            `json:"definitions"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		for k, v := range doc.Definitions {
			s.defs[k] = v
		}
		for p, methods := range doc.Paths {
			segs := strings.Split(strings.Trim(p, "/"), "/")
			lit := 0
			for _, sg := range segs {
				if !strings.HasPrefix(sg, "{") {
					lit++
				}
			}
			for m, o := range methods {
				resp, _ := o["responses"].(map[string]any)
				s.ops = append(s.ops, op{method: strings.ToUpper(m), segs: segs, literals: lit, template: p, responses: resp})
			}
		}
	}
	sort.SliceStable(s.ops, func(i, j int) bool { return s.ops[i].literals > s.ops[j].literals })
	return s, nil
}

// Match reports the templates of the operations a request path (anything
// ending in /api/v1/...) matches, most specific first.
func (s *Spec) match(method, path string) []op {
	i := strings.Index(strings.ToLower(path), "/api/")
	if i < 0 {
		return nil
	}
	segs := strings.Split(strings.Trim(path[i:], "/"), "/")
	var out []op
	for _, o := range s.ops {
		if o.method != method || len(o.segs) != len(segs) {
			continue
		}
		ok := true
		for k, sg := range o.segs {
			if !strings.HasPrefix(sg, "{") && !strings.EqualFold(sg, segs[k]) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, o)
		}
	}
	if len(out) > 1 {
		best := out[0].literals
		kept := out[:0]
		for _, o := range out {
			if o.literals == best {
				kept = append(kept, o)
			}
		}
		out = kept
	}
	return out
}

// Documented says whether some operation describes method and path.
func (s *Spec) Documented(method, path string) bool { return len(s.match(method, path)) > 0 }

// ValidateResponse checks a response body against the schema its operation
// documents for status. Paths the descriptions do not cover (the login host)
// pass; a 2xx status an operation does not document fails.
func (s *Spec) ValidateResponse(method, path string, status int, body []byte) error {
	ops := s.match(method, path)
	if len(ops) == 0 {
		return nil
	}
	var errs []string
	for _, o := range ops {
		r, ok := o.responses[strconv.Itoa(status)].(map[string]any)
		if !ok {
			if status >= 200 && status < 300 {
				errs = append(errs, fmt.Sprintf("%s %s: status %d is not documented", method, o.template, status))
				continue
			}
			return nil
		}
		schema, _ := r["schema"].(map[string]any)
		trimmed := bytes.TrimSpace(body)
		if schema == nil || len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
			return nil // no body documented, or the agents' null for a missing entity
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("%s %s: body is not JSON: %w", method, path, err)
		}
		if err := s.validate(schema, v, "$", ""); err != nil {
			errs = append(errs, fmt.Sprintf("%s %s (%s): %v", method, path, o.template, err))
			continue
		}
		return nil
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(errs, "; "))
}

// flagEnums are enum properties that are .NET flags: several names may be combined.
var flagEnums = map[string]bool{"Weekdays": true}

func (s *Spec) validate(schema map[string]any, v any, at, prop string) error {
	if ref, ok := schema["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/definitions/")
		def, ok := s.defs[name]
		if !ok {
			return fmt.Errorf("%s: unknown definition %s", at, name)
		}
		return s.validate(def, v, at, prop)
	}
	typ, _ := schema["type"].(string)
	if v == nil {
		switch typ {
		case "integer", "number", "boolean":
			return fmt.Errorf("%s: null where a %s is required", at, typ)
		}
		return nil
	}
	switch typ {
	case "object", "":
		props, _ := schema["properties"].(map[string]any)
		extra, hasExtra := schema["additionalProperties"].(map[string]any)
		if props == nil && !hasExtra {
			return nil // System.Object: any value
		}
		obj, ok := v.(map[string]any)
		if !ok {
			if typ == "" {
				return nil
			}
			return fmt.Errorf("%s: want an object, got %T", at, v)
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k].(map[string]any); ok {
				if err := s.validate(ps, obj[k], at+"."+k, k); err != nil {
					return err
				}
				continue
			}
			if hasExtra {
				if err := s.validate(extra, obj[k], at+"."+k, k); err != nil {
					return err
				}
				continue
			}
			if props != nil || typ == "object" {
				return fmt.Errorf("%s: property %q is not in the definition", at, k)
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array, got %T", at, v)
		}
		items, _ := schema["items"].(map[string]any)
		for i, x := range arr {
			if err := s.validate(items, x, fmt.Sprintf("%s[%d]", at, i), prop); err != nil {
				return err
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: want a string, got %T", at, v)
		}
		if enum, ok := schema["enum"].([]any); ok {
			if err := checkEnum(enum, str, flagEnums[prop]); err != nil {
				return fmt.Errorf("%s: %w", at, err)
			}
		}
		if schema["format"] == "date-time" {
			if _, _, err := wire.ParseDate(str, nil); err != nil {
				return fmt.Errorf("%s: %w", at, err)
			}
		}
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%s: want an integer, got %T", at, v)
		}
		i, err := n.Int64()
		if err != nil {
			return fmt.Errorf("%s: %s is not an integer", at, n)
		}
		if schema["format"] == "int32" && (i > math.MaxInt32 || i < math.MinInt32) {
			return fmt.Errorf("%s: %d is outside int32", at, i)
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			return fmt.Errorf("%s: want a number, got %T", at, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: want a boolean, got %T", at, v)
		}
	}
	return nil
}

func checkEnum(enum []any, v string, flags bool) error {
	parts := []string{v}
	if flags {
		parts = strings.Split(v, ",")
	}
	for _, p := range parts {
		p = strings.TrimSpace(p)
		found := false
		for _, e := range enum {
			if e == p {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("%q is not one of %v", p, enum)
		}
	}
	return nil
}
