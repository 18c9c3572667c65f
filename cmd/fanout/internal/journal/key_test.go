package journal

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"
)

func TestKeyerStableAcrossOrder(t *testing.T) {
	one, two := NewKeyer("http", "GET"), NewKeyer("http", "GET")
	a1, b1 := one.Key("a"), one.Key("b")
	b2, a2 := two.Key("b"), two.Key("a")
	if a1 != a2 || b1 != b2 {
		t.Error("a line's key depends on its position")
	}
	if a1 == b1 {
		t.Error("two lines share a key")
	}
	if again := one.Key("a"); again == a1 {
		t.Error("a repeated line has the key of its first copy: one of them would be skipped")
	} else if two.Key("a") != again {
		t.Error("the second copy of a line has no stable key")
	}
	if NewKeyer("http", "HEAD").Key("a") == a1 {
		t.Error("the key ignores the options")
	}
	// Fingerprint parts are length-prefixed: moving a boundary changes it.
	if NewKeyer("ab", "c").Key("x") == NewKeyer("a", "bc").Key("x") {
		t.Error("fingerprints ab|c and a|bc collide")
	}
	k, err := ParseKey(a1.String())
	if err != nil || k != a1 {
		t.Errorf("ParseKey(String()) = %v, %v", k, err)
	}
	for _, bad := range []string{"", "xyz", a1.String()[:30] + "zz"} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted it", bad)
		}
	}
}

func TestShardsPartitionTheInput(t *testing.T) {
	for _, n := range []int{1, 2, 7} {
		sizes := make([]int, n)
		for i := range 1000 {
			line := fmt.Sprintf("http://127.0.0.1/%d", i)
			in := 0
			for k := range n {
				if (Shard{K: k, N: n}).Has(line) {
					in++
					sizes[k]++
				}
			}
			if in != 1 {
				t.Fatalf("N=%d: %q is in %d shards", n, line, in)
			}
		}
		for k, size := range sizes {
			if size < 1000/n/2 {
				t.Errorf("N=%d: shard %d has %d of 1000 lines: the hash does not spread", n, k, size)
			}
		}
	}
	if !(Shard{}).Has("x") {
		t.Error("the zero Shard is not the whole input")
	}
}

func TestParseShard(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	tests := []struct {
		in   string
		vars map[string]string
		want Shard
		ok   bool
	}{
		{"0/1", nil, Shard{0, 1}, true},
		{"6/7", nil, Shard{6, 7}, true},
		{"7/7", nil, Shard{}, false},
		{"-1/7", nil, Shard{}, false},
		{"1/0", nil, Shard{}, false},
		{"1", nil, Shard{}, false},
		{"auto/4", nil, Shard{}, false},
		{"auto/4", map[string]string{"JOB_COMPLETION_INDEX": "3"}, Shard{3, 4}, true},
		{"auto/4", map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "2"}, Shard{2, 4}, true},
		{"auto/4", map[string]string{"SLURM_ARRAY_TASK_ID": "1"}, Shard{1, 4}, true},
		{"auto/4", map[string]string{"SLURM_ARRAY_TASK_ID": "4"}, Shard{}, false},
	}
	for _, tt := range tests {
		got, err := ParseShard(tt.in, env(tt.vars))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseShard(%q, %v) = %v, %v; want %v, ok %v", tt.in, tt.vars, got, err, tt.want, tt.ok)
		}
	}
}

// TestKeyerNumbersRepeats pins the keys to the hash of the line and its
// copy number, as journals written before keep them.
func TestKeyerNumbersRepeats(t *testing.T) {
	keys := NewKeyer("http", "GET")
	ref := NewKeyer("http", "GET")
	lines := []string{"a", "b", "a", "a", "c", "b"}
	copies := []uint32{0, 0, 1, 2, 0, 1}
	for i, line := range lines {
		if got, want := keys.Key(line), ref.hash(line, copies[i]); got != want {
			t.Errorf("line %d (%q): key %v, want the hash of copy %d, %v", i, line, got, copies[i], want)
		}
	}
}

// BenchmarkKeyerMemory reports the heap a Keyer keeps per distinct line.
func BenchmarkKeyerMemory(b *testing.B) {
	for _, lines := range []int{150_000, 200_000, 300_000, 1_000_000} {
		b.Run(strconv.Itoa(lines), func(b *testing.B) {
			var perLine float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				keys := NewKeyer("http", "GET")
				for i := range lines {
					keys.Key("http://127.0.0.1/" + strconv.Itoa(i))
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perLine += float64(after.HeapAlloc-before.HeapAlloc) / float64(lines)
				runtime.KeepAlive(keys)
			}
			b.ReportMetric(perLine/float64(b.N), "B/line")
		})
	}
}

func TestIDSet(t *testing.T) {
	var s idSet
	want := map[uint64]bool{}
	// Ids that share their low bits probe past each other; 0 is stored as
	// 1, so the two are one id.
	for i := range uint64(5000) {
		for _, id := range []uint64{i << 20, i*0x9e3779b97f4a7c15 + 1, i % 7} {
			same := max(id, 1)
			if got := s.add(id); got != !want[same] {
				t.Fatalf("add(%#x) = %v, want %v", id, got, !want[same])
			}
			want[same] = true
		}
	}
	if s.n != len(want) {
		t.Errorf("%d ids stored, want %d", s.n, len(want))
	}
	if 4*s.n > 3*len(s.slots) {
		t.Errorf("%d ids in %d slots: over three quarters full", s.n, len(s.slots))
	}
}
