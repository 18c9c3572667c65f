// Package before is fanout's core as it was at commit 1209a89, before
// issues 10 and 11, kept only so that the benchmarks can measure it and the
// current core side by side in one run. Nothing else may import it.
package fanout
