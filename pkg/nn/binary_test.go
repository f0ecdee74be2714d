package nn

import (
	"fmt"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

func TestBinaryForward(t *testing.T) {
	tests := []struct {
		name, op  string
		opset     int
		attrs     Attrs
		a, b      *tensor.Dense
		wantShape []int
		want      any
	}{
		{"add equal", "Add", 14, nil, f32([]int{2, 2}, 1, 2, 3, 4), f32([]int{2, 2}, 10, 20, 30, 40), []int{2, 2}, []float32{11, 22, 33, 44}},
		{"add row", "Add", 14, nil, f32([]int{2, 3}, 1, 2, 3, 4, 5, 6), f32([]int{3}, 10, 20, 30), []int{2, 3}, []float32{11, 22, 33, 14, 25, 36}},
		{"add column", "Add", 14, nil, f32([]int{2, 3}, 1, 2, 3, 4, 5, 6), f32([]int{2, 1}, 10, 20), []int{2, 3}, []float32{11, 12, 13, 24, 25, 26}},
		{"mul outer", "Mul", 14, nil, f32([]int{2, 1}, 1, 2), f32([]int{1, 3}, 3, 4, 5), []int{2, 3}, []float32{3, 4, 5, 6, 8, 10}},
		{"sub scalar", "Sub", 14, nil, f32([]int{2}, 5, 7), f32(nil, 2), []int{2}, []float32{3, 5}},
		{"sub scalar left", "Sub", 14, nil, f32(nil, 2), f32([]int{2}, 5, 7), []int{2}, []float32{-3, -5}},
		{"div", "Div", 14, nil, f32([]int{3}, 1, 4, 9), f32([]int{3}, 2, 8, 3), []int{3}, []float32{0.5, 0.5, 3}},
		{"div int64 truncates", "Div", 14, nil, i64([]int{2}, 7, -7), i64([]int{1}, 2), []int{2}, []int64{3, -3}},
		{"mul int64 shapes", "Mul", 13, nil, i64([]int{2}, 3, 4), i64(nil, 2), []int{2}, []int64{6, 8}},
		{"add both broadcast 3d", "Add", 14, nil, f32([]int{2, 1, 2}, 1, 2, 3, 4), f32([]int{3, 1}, 10, 20, 30), []int{2, 3, 2},
			[]float32{11, 12, 21, 22, 31, 32, 13, 14, 23, 24, 33, 34}},
		{"zero size", "Add", 14, nil, f32([]int{0, 3}), f32([]int{3}, 1, 2, 3), []int{0, 3}, []float32{}},
		{"legacy axis", "Add", 6, Attrs{"broadcast": int64(1), "axis": int64(0)}, f32([]int{2, 2}, 1, 2, 3, 4), f32([]int{2}, 10, 20), []int{2, 2}, []float32{11, 12, 23, 24}},
		{"legacy suffix", "Mul", 6, Attrs{"broadcast": int64(1)}, f32([]int{2, 2}, 1, 2, 3, 4), f32([]int{2}, 10, 20), []int{2, 2}, []float32{10, 40, 30, 80}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := run1(t, tt.op, tt.opset, tt.attrs, tt.a, tt.b)
			wantTensor(t, out[0], tt.wantShape, tt.want)
		})
	}
}

func TestBinaryErrors(t *testing.T) {
	tests := []struct {
		name, op  string
		opset     int
		attrs     Attrs
		a, b      *tensor.Dense
		substring string
	}{
		{"no broadcast", "Add", 14, nil, f32([]int{2}, 1, 2), f32([]int{3}, 1, 2, 3), "broadcast"},
		{"types differ", "Add", 14, nil, f32([]int{1}, 1), i64([]int{1}, 1), "differ"},
		{"int division by zero", "Div", 14, nil, i64([]int{2}, 1, 2), i64([]int{2}, 1, 0), "division by zero"},
		{"legacy strict", "Add", 6, nil, f32([]int{2, 2}, 1, 2, 3, 4), f32([]int{2}, 1, 2), "opset < 7"},
		{"legacy grows A", "Add", 6, Attrs{"broadcast": int64(1), "axis": int64(0)}, f32([]int{2, 1}, 1, 2), f32([]int{1, 3}, 1, 2, 3), "grow A"},
		{"legacy bad axis", "Add", 6, Attrs{"broadcast": int64(1), "axis": int64(1)}, f32([]int{2, 2}, 1, 2, 3, 4), f32([]int{2, 2}, 1, 2, 3, 4), "legacy"},
		{"bool", "Add", 14, nil, tensor.New(tensor.WithShape(1), tensor.WithBacking([]bool{true})), tensor.New(tensor.WithShape(1), tensor.WithBacking([]bool{true})), "unsupported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := mustNew(t, tt.op, tt.opset, tt.attrs).Forward(noRand(), []*tensor.Dense{tt.a, tt.b})
			if err == nil || !strings.Contains(err.Error(), tt.op) || !strings.Contains(err.Error(), tt.substring) {
				t.Fatalf("got error %v, want one naming %s and containing %q", err, tt.op, tt.substring)
			}
		})
	}
	_, err := New("Add", 14, Attrs{"broadcast": int64(1)})
	wantUnsupported(t, err)
	_, err = New("Add", 6, Attrs{"consumed_inputs": []int64{0}})
	wantUnsupported(t, err)
}

func TestBinaryGrad(t *testing.T) {
	shapes := [][2][]int{
		{{2, 3}, {2, 3}},
		{{2, 3}, {3}},
		{{2, 1}, {1, 3}},
		{{2, 3}, {}},
		{{3, 1, 2}, {4, 1}},
		{{1}, {2, 2}},
	}
	for _, op := range []string{"Add", "Sub", "Mul", "Div"} {
		for i, s := range shapes {
			t.Run(fmt.Sprintf("%s/%v%v", op, s[0], s[1]), func(t *testing.T) {
				o := mustNew(t, op, 14, nil).(Differentiable)
				a := randF32(uint64(i), -1, 1, s[0]...)
				b := randF32(uint64(i+10), 0.5, 1.5, s[1]...)
				checkGrad(t, o, noRand, []*tensor.Dense{a, b}, []int{0, 1})
			})
		}
	}
	t.Run("legacy", func(t *testing.T) {
		o := mustNew(t, "Div", 6, Attrs{"broadcast": int64(1), "axis": int64(1)}).(Differentiable)
		checkGrad(t, o, noRand, []*tensor.Dense{randF32(1, -1, 1, 2, 3, 2), randF32(2, 0.5, 1.5, 3)}, []int{0, 1})
	})
}

func BenchmarkAdd(b *testing.B) {
	for _, s := range [][2][]int{{{60, 65536}, {60, 65536}}, {{60, 65536}, {65536}}, {{60, 65536}, {}}} {
		b.Run(fmt.Sprintf("%v%v", s[0], s[1]), func(b *testing.B) {
			o := mustNewB(b, "Add")
			in := []*tensor.Dense{randF32(1, -1, 1, s[0]...), randF32(2, -1, 1, s[1]...)}
			b.SetBytes(int64(Size(s[0]) * 4))
			for b.Loop() {
				if _, _, err := o.Forward(noRand(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func mustNewB(b *testing.B, op string) Op {
	o, err := New(op, 14, nil)
	if err != nil {
		b.Fatal(err)
	}
	return o
}
