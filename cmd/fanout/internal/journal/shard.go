package journal

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// ShardEnv lists the environment variables that `--shard auto/N` reads K
// from, in this order: the array index that Kubernetes Indexed Jobs, AWS
// Batch array jobs and Slurm job arrays give each copy of a program.
var ShardEnv = []string{"JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX", "SLURM_ARRAY_TASK_ID"}

// Shard is one part of an input split N ways: the inputs whose line hashes
// to K modulo N. The zero Shard is the whole input.
type Shard struct{ K, N int }

// ParseShard parses "K/N" (0 <= K < N) or "auto/N", which takes K from the
// first variable of ShardEnv that getenv finds set.
func ParseShard(s string, getenv func(string) string) (Shard, error) {
	ks, ns, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(ns)
	if !ok || err != nil || n < 1 {
		return Shard{}, fmt.Errorf("want K/N or auto/N with N at least 1, got %q", s)
	}
	source := ""
	if ks == "auto" {
		for _, name := range ShardEnv {
			if v := getenv(name); v != "" {
				ks, source = v, " (from "+name+")"
				break
			}
		}
		if source == "" {
			return Shard{}, fmt.Errorf("auto/%d: none of %s is set", n, strings.Join(ShardEnv, ", "))
		}
	}
	k, err := strconv.Atoi(ks)
	if err != nil || k < 0 || k >= n {
		return Shard{}, fmt.Errorf("shard %q%s must be a number from 0 to %d", ks, source, n-1)
	}
	return Shard{K: k, N: n}, nil
}

// String returns "K/N".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.K, s.N) }

// Has reports whether the input line belongs to the shard. It depends on
// the line alone, so every copy of a line, whatever the options, falls in
// the same shard.
func (s Shard) Has(line string) bool {
	if s.N <= 1 {
		return true
	}
	sum := sha256.Sum256([]byte(line))
	return binary.BigEndian.Uint64(sum[:8])%uint64(s.N) == uint64(s.K)
}
