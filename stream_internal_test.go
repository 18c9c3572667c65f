package fanout

import (
	"reflect"
	"testing"
)

func TestHasPointers(t *testing.T) {
	type flat struct {
		A int
		B [2]float64
		C bool
	}
	type nested struct {
		F flat
		S string
	}
	for _, c := range []struct {
		t    reflect.Type
		want bool
	}{
		{reflect.TypeFor[int](), false},
		{reflect.TypeFor[complex128](), false},
		{reflect.TypeFor[flat](), false},
		{reflect.TypeFor[[4]flat](), false},
		{reflect.TypeFor[[0]*int](), false},
		{reflect.TypeFor[struct{}](), false},
		{reflect.TypeFor[string](), true},
		{reflect.TypeFor[*int](), true},
		{reflect.TypeFor[[]int](), true},
		{reflect.TypeFor[map[int]int](), true},
		{reflect.TypeFor[error](), true},
		{reflect.TypeFor[func()](), true},
		{reflect.TypeFor[chan int](), true},
		{reflect.TypeFor[nested](), true},
		{reflect.TypeFor[[1]nested](), true},
	} {
		if got := hasPointers(c.t); got != c.want {
			t.Errorf("hasPointers(%v) = %v, want %v", c.t, got, c.want)
		}
	}
}
