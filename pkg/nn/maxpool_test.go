package nn

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gorgonia.org/tensor"

	pwonnx "portwatch/pkg/onnx"
)

func TestMaxPoolConformance(t *testing.T) {
	for _, pattern := range []string{"test_maxpool_*", "pytorch-converted/test_MaxPool1d*"} {
		dirs, _ := filepath.Glob(filepath.Join(conformanceDir, pattern))
		if len(dirs) == 0 {
			t.Skipf("no cases %s", pattern)
		}
		for _, dir := range dirs {
			if filepath.Base(dir) == "test_maxpool_2d_uint8" {
				continue // onnx-go cannot decode it: see TestMaxPool8Bit
			}
			t.Run(filepath.Base(dir), func(t *testing.T) { runCase(t, dir, 1e-3, 1e-7) })
		}
	}
}

// TestMaxPool8Bit runs the uint8 conformance case, decoded with the
// engine's own reader (onnx-go cannot decode it), an int8 case by hand, and
// checks that 8-bit MaxPool has no backward and other types are refused.
func TestMaxPool8Bit(t *testing.T) {
	dir := filepath.Join(conformanceDir, "test_maxpool_2d_uint8")
	nodes, _, _, _ := readModel(t, filepath.Join(dir, "model.onnx"))
	op := mustNew(t, "MaxPool", 22, nodes[0].attrs)
	decode := func(name string) *tensor.Dense {
		b, err := os.ReadFile(filepath.Join(dir, "test_data_set_0", name))
		if err != nil {
			t.Fatal(err)
		}
		_, v, err := pwonnx.DecodeTensor(b)
		if err != nil {
			t.Fatalf("decode %s: %v", name, err)
		}
		return v
	}
	x, want := decode("input_0.pb"), decode("output_0.pb")
	out, _, err := op.Forward(&Pass{}, []*tensor.Dense{x})
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Dtype() != tensor.Uint8 || !slices.Equal(Shape(out[0]), Shape(want)) || !slices.Equal(out[0].Uint8s(), want.Uint8s()) {
		t.Errorf("uint8: got %v %v %v, want %v %v", out[0].Dtype(), Shape(out[0]), out[0].Data(), Shape(want), want.Data())
	}
	var ue *UnsupportedError
	if _, err := op.(Differentiable).Backward([]*tensor.Dense{x}, out, []*tensor.Dense{ZerosF32(Shape(out[0])...)}, nil); !errors.As(err, &ue) {
		t.Errorf("uint8 backward: got %v, want *UnsupportedError", err)
	}

	i8 := tensor.New(tensor.WithShape(1, 1, 4), tensor.WithBacking([]int8{-128, -3, 127, -1}))
	out = run1(t, "MaxPool", 12, Attrs{"kernel_shape": []int64{2}, "pads": []int64{1, 0}, "strides": []int64{2}}, i8)
	if got := out[0].Int8s(); !slices.Equal(got, []int8{-128, 127}) || !slices.Equal(out[1].Int64s(), []int64{0, 2}) {
		t.Errorf("int8: got %v indices %v, want [-128 127] [0 2]", got, out[1].Int64s())
	}

	f64 := tensor.New(tensor.WithShape(1, 1, 5, 5), tensor.Of(tensor.Float64))
	if _, _, err := op.Forward(&Pass{}, []*tensor.Dense{f64}); !errors.As(err, &ue) {
		t.Errorf("float64: got %v, want *UnsupportedError", err)
	}
}

// TestMaxPoolIndices: X [1,1,2,3] = [[1 6 2] [5 3 4]], kernel 2x2, stride 1,
// the last axis padded by one at the end: outputs at (0,0) (0,1) (0,2).
//
//	(0,0): {1,6,5,3} -> 6 at (0,1): row-major 1, column-major 0+1*2 = 2
//	(0,1): {6,2,3,4} -> 6 at (0,1): 1, 2
//	(0,2): {2,4} (right column padded) -> 4 at (1,2): row-major 5, column-major 1+2*2 = 5
func TestMaxPoolIndices(t *testing.T) {
	x := NewF32([]int{1, 1, 2, 3}, []float32{1, 6, 2, 5, 3, 4})
	for _, tc := range []struct {
		order int64
		want  []int64
	}{{0, []int64{1, 1, 5}}, {1, []int64{2, 2, 5}}} {
		op, err := New("MaxPool", 12, Attrs{"kernel_shape": []int64{2, 2}, "pads": []int64{0, 0, 0, 1}, "storage_order": tc.order})
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := op.Forward(&Pass{}, []*tensor.Dense{x})
		if err != nil {
			t.Fatal(err)
		}
		compareTensors(t, "Y", out[0], NewF32([]int{1, 1, 1, 3}, []float32{6, 6, 4}), 0, 0)
		compareTensors(t, "Indices", out[1], NewI64([]int{1, 1, 1, 3}, tc.want), 0, 0)
		// Indices nothing reads (the node names Y only) are left out; Y is the same.
		out, _, err = op.Forward(&Pass{Unread: []bool{false}}, []*tensor.Dense{x})
		if err != nil {
			t.Fatal(err)
		}
		compareTensors(t, "Y without Indices", out[0], NewF32([]int{1, 1, 1, 3}, []float32{6, 6, 4}), 0, 0)
		if len(out) != 2 || out[1] != nil {
			t.Errorf("unread Indices: got %v, want nil", out[1:])
		}
	}
}

// distinctF32 is a tensor of well separated values in random order, so that
// finite differences never change which element is the maximum.
func distinctF32(rng *rand.Rand, shape ...int) *tensor.Dense {
	v := make([]float32, Size(shape))
	for i, p := range rng.Perm(len(v)) {
		v[i] = float32(p)*0.1 - 1
	}
	return NewF32(shape, v)
}

func TestMaxPoolGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, tc := range []struct {
		name  string
		attrs Attrs
		x     []int
	}{
		{"1d-overlap", Attrs{"kernel_shape": []int64{3}, "strides": []int64{2}, "pads": []int64{1, 1}}, []int{2, 2, 9}},
		{"2d-ceil-dilation", Attrs{"kernel_shape": []int64{2, 2}, "strides": []int64{2, 1}, "dilations": []int64{1, 2}, "ceil_mode": int64(1)}, []int{1, 2, 5, 6}},
		{"3d-same", Attrs{"kernel_shape": []int64{2, 2, 2}, "auto_pad": "SAME_UPPER", "storage_order": int64(1)}, []int{1, 1, 3, 3, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op, err := New("MaxPool", 22, tc.attrs)
			if err != nil {
				t.Fatal(err)
			}
			checkGrad(t, op.(Differentiable), func() *Pass { return &Pass{Train: true} }, []*tensor.Dense{distinctF32(rng, tc.x...)}, []int{0})
		})
	}
}

func TestMaxPoolErrors(t *testing.T) {
	var ue *UnsupportedError
	if _, err := New("MaxPool", 9, Attrs{"kernel_shape": []int64{2}, "dilations": []int64{2}}); !errors.As(err, &ue) {
		t.Errorf("dilations at opset 9: got %v, want *UnsupportedError", err)
	}
	if _, err := New("MaxPool", 22, Attrs{}); err == nil {
		t.Error("no kernel_shape: no error")
	}
	op, err := New("MaxPool", 22, Attrs{"kernel_shape": []int64{2, 2}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := op.Forward(&Pass{}, []*tensor.Dense{randF32(1, -1, 1, 1, 1, 4)}); err == nil {
		t.Error("1-D input for a 2-D kernel: no error")
	}
	pad, err := New("MaxPool", 22, Attrs{"kernel_shape": []int64{2}, "pads": []int64{3, 0}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := pad.Forward(&Pass{}, []*tensor.Dense{randF32(1, -1, 1, 1, 1, 4)}); err == nil {
		t.Error("window wholly in padding: no error")
	}
}

// BenchmarkMaxPool pools the portae Conv output [600, 8, 4096] by 4.
func BenchmarkMaxPool(b *testing.B) {
	op, err := New("MaxPool", 22, Attrs{"kernel_shape": []int64{4}, "strides": []int64{4}})
	if err != nil {
		b.Fatal(err)
	}
	in := []*tensor.Dense{randF32(1, -1, 1, 600, 8, 4096)}
	for b.Loop() {
		if _, _, err := op.Forward(&Pass{}, in); err != nil {
			b.Fatal(err)
		}
	}
}
