package cli

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/fanout-go/fanout/cmd/fanout/internal/journal"
)

// runMerge is `fanout merge`: the outputs of shards or of resumed runs (and
// their journals) put back together, one record per input in index order.
func runMerge(_ context.Context, env Env, args []string) error {
	var allowMissing bool
	fs := NewFlagSet("merge", "fanout merge [flags] FILE...\n\n"+
		"Merges JSON-lines outputs of fanout (shards, resumed runs, --resume journals) into one stream in input\n"+
		"order: for each input its last successful record, or its last record when none succeeded.\n"+
		"Exits 1 when an index from 0 to the highest is missing or an input has no successful record.")
	fs.BoolVar(&allowMissing, "", "allow-missing", false, "report missing or unfinished inputs but exit 0")
	files, err := fs.Parse(args, env.Stdout)
	if err == errHelp {
		return nil
	}
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("merge", "no files to merge")
	}
	var sources []journal.Source
	for _, name := range files {
		if name == "-" {
			sources = append(sources, journal.Source{Name: "stdin", R: env.Stdin})
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			return usagef("merge", "cannot read %v", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.IsDir() {
			return usagef("merge", "cannot read %s: it is a directory", name)
		}
		sources = append(sources, journal.Source{Name: name, R: f})
	}
	rep, err := journal.Merge(env.Stdout, sources, func(msg string) { fmt.Fprintf(env.Stderr, "fanout: %s\n", msg) })
	if err != nil {
		return err
	}
	if rep.MissingCount > 0 {
		fmt.Fprintf(env.Stderr, "fanout: merge: %d indices have no record: %s\n", rep.MissingCount, listInts(rep.Missing, rep.MissingCount))
	}
	if len(rep.Unfinished) > 0 {
		fmt.Fprintf(env.Stderr, "fanout: merge: %d inputs have no successful record: indices %s\n", len(rep.Unfinished), listInts(rep.Unfinished, len(rep.Unfinished)))
	}
	if rep.OK() || allowMissing {
		return nil
	}
	return fmt.Errorf("merge: %d of %d records missing or unfinished", rep.MissingCount+len(rep.Unfinished), rep.Records+rep.MissingCount)
}

// listInts lists the first few of total numbers: "3, 5, 8 and 12 more".
func listInts(xs []int, total int) string {
	var parts []string
	for _, x := range xs[:min(len(xs), journal.MaxListed)] {
		parts = append(parts, strconv.Itoa(x))
	}
	s := strings.Join(parts, ", ")
	if shown := min(len(xs), journal.MaxListed); total > shown {
		s += fmt.Sprintf(" and %d more", total-shown)
	}
	return s
}
