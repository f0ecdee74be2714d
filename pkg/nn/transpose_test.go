package nn

import (
	"testing"

	"gorgonia.org/tensor"
)

func TestTranspose(t *testing.T) {
	// x[i][j][k] = 100i + 10j + k, shape [2,3,2]
	var xv []int64
	for i := range 2 {
		for j := range 3 {
			for k := range 2 {
				xv = append(xv, int64(100*i+10*j+k))
			}
		}
	}
	x := i64([]int{2, 3, 2}, xv...)
	// out[a][b][c] = x at the permuted index, written out by hand
	out := run1(t, "Transpose", 13, Attrs{"perm": []int64{1, 2, 0}}, x)
	wantTensor(t, out[0], []int{3, 2, 2}, []int64{0, 100, 1, 101, 10, 110, 11, 111, 20, 120, 21, 121})
	out = run1(t, "Transpose", 13, nil, x)
	wantTensor(t, out[0], []int{2, 3, 2}, []int64{0, 100, 10, 110, 20, 120, 1, 101, 11, 111, 21, 121})
	m := f32([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	wantTensor(t, run1(t, "Transpose", 1, nil, m)[0], []int{3, 2}, []float32{1, 4, 2, 5, 3, 6})
	for _, perm := range [][]int64{{0, 1}, {0, 0, 1}, {0, 1, 3}, {-1, 0, 1}} {
		if _, _, err := mustNew(t, "Transpose", 13, Attrs{"perm": perm}).Forward(noRand(), []*tensor.Dense{x}); err == nil {
			t.Errorf("perm %v: want error", perm)
		}
	}
}

func TestTransposeGrad(t *testing.T) {
	for _, perm := range [][]int64{nil, {1, 2, 0}, {0, 2, 1}, {2, 0, 1}} {
		a := Attrs{}
		if perm != nil {
			a["perm"] = perm
		}
		checkGrad(t, mustNew(t, "Transpose", 13, a).(Differentiable), noRand, []*tensor.Dense{randF32(1, -1, 1, 2, 3, 4)}, []int{0})
	}
}

func BenchmarkTranspose(b *testing.B) {
	// portae's [N,T,C,L] -> [N,C,T,L] style move of the port axis blocks
	o, err := New("Transpose", 13, Attrs{"perm": []int64{0, 2, 1, 3}})
	if err != nil {
		b.Fatal(err)
	}
	in := []*tensor.Dense{randF32(1, -1, 1, 1, 60, 3, 65536)}
	b.SetBytes(int64(Size(Shape(in[0])) * 4))
	for b.Loop() {
		if _, _, err := o.Forward(noRand(), in); err != nil {
			b.Fatal(err)
		}
	}
}
