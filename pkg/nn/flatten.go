package nn

import (
	"fmt"

	"gorgonia.org/tensor"
)

func newFlatten(opset int, a Attrs) (Op, error) {
	if err := a.Check("Flatten", "axis"); err != nil {
		return nil, err
	}
	axis, err := a.Int("axis", 1)
	if err != nil {
		return nil, fmt.Errorf("Flatten: %w", err)
	}
	return &regroup{op: "Flatten", shape: func(x []int, _ []*tensor.Dense) ([]int, error) {
		// axis may equal the rank; negative axes came with opset 11.
		ax := axis
		if ax < 0 && opset >= 11 {
			ax += int64(len(x))
		}
		if ax < 0 || ax > int64(len(x)) {
			return nil, fmt.Errorf("axis %d out of range for rank %d", axis, len(x))
		}
		return []int{Size(x[:ax]), Size(x[ax:])}, nil
	}}, nil
}
