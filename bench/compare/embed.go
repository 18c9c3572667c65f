package main

import _ "embed"

// seedPattern is the seed article's Python pattern, written out for each
// run so the harness works from any directory.
//
//go:embed seed_pattern.py
var seedPattern []byte
