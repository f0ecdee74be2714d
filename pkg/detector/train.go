package detector

import (
	"errors"

	"gorgonia.org/tensor"
)

// step takes one optimizer step on inputs x toward targets y.
func (m *model) step(x, y *tensor.Dense) (float64, error) {
	return 0, errors.New("TODO engine trainer")
}
