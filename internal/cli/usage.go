// Package cli is what the two commands share at their edges: the --help
// text (the commands, then the environment variables that program reads)
// and where go-redis' own log lines go.
package cli

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/dealctx/dealctx/internal/config"
)

// PrintUsage writes text, then every variable of config.Variables read by
// one of procs, one line each with its default and meaning, and returns the
// first write error.
func PrintUsage(w io.Writer, text string, procs config.Process) error {
	if _, err := io.WriteString(w, text); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, v := range config.Variables {
		if v.ReadBy&procs == 0 {
			continue
		}
		if _, err := fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, v.Default, v.Meaning); err != nil {
			return err
		}
	}
	return tw.Flush()
}
