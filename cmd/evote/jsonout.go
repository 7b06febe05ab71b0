package main

import "encoding/json"

// printJSON prints v as the one JSON object a command's --json gives, on
// standard output; diagnostics and progress bars stay on standard error.
func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
