package detector

import (
	"fmt"

	"gorgonia.org/tensor"

	"portwatch/pkg/engine"
	"portwatch/pkg/portae"
)

// Adam's step sizes. Adam's moments are not kept in the model file, so each
// run's refit starts them afresh, and fresh moments move every parameter
// with a gradient by about the step size, the rare ports' output biases
// included (down, as they are mostly absent): refits take small steps so
// that drift stays far below a nat a month.
const (
	trainRate = 1e-3
	refitRate = 1e-4
)

// startTraining prepares m for steps of size lr, seeding Dropout with seed.
func (m *model) startTraining(seed uint64, lr float64) error {
	if m.trainer != nil && m.lr == lr {
		return nil
	}
	t, err := engine.NewTrainer(m.eng, engine.TrainConfig{Output: portae.Output, Loss: engine.BCE, LR: lr, Seed: seed})
	if err != nil {
		return err
	}
	m.trainer, m.lr = t, lr
	return nil
}

// step takes one Adam step on inputs toward targets y, with the loss the
// score uses (binary cross-entropy), and returns the loss before the step.
func (m *model) step(inputs map[string]*tensor.Dense, y *tensor.Dense) (float64, error) {
	if m.trainer == nil {
		return 0, fmt.Errorf("model not prepared for training")
	}
	return m.trainer.Step(inputs, y)
}
