package config

import (
	"fmt"
	"io"

	"github.com/hashicorp/hcl/v2"
)

// MaxShown bounds how many diagnostics Write prints; the rest are counted.
const MaxShown = 100

// Write renders the diagnostics for a person: each starts with a
// FILE:LINE:COL line, followed by hcl's text rendering with the source line.
func (r *Result) Write(w io.Writer, width uint, color bool) error {
	tw := hcl.NewDiagnosticTextWriter(w, r.Files, width, color)
	for i, d := range r.Diags {
		if i == MaxShown {
			_, err := fmt.Fprintf(w, "... and %d more problems.\n", len(r.Diags)-MaxShown)
			return err
		}
		if d.Subject != nil {
			if _, err := fmt.Fprintf(w, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column); err != nil {
				return err
			}
		}
		if err := tw.WriteDiagnostic(d); err != nil {
			return err
		}
	}
	return nil
}

// Errors counts the error diagnostics.
func (r *Result) Errors() int {
	n := 0
	for _, d := range r.Diags {
		if d.Severity == hcl.DiagError {
			n++
		}
	}
	return n
}

// Error summarises the diagnostics in one line per problem, for logs.
func (r *Result) Error() string {
	s := ""
	for _, d := range r.Diags {
		if s != "" {
			s += "; "
		}
		if d.Subject != nil {
			s += fmt.Sprintf("%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		s += d.Summary
		if d.Detail != "" {
			s += ": " + d.Detail
		}
	}
	return s
}
