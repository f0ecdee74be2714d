package detector

import (
	"fmt"

	"gorgonia.org/tensor"

	"portwatch/pkg/engine"
	"portwatch/pkg/portae"
)

// learningRate is Adam's step size. Adam's moments are not kept in the
// model file, so each run's refit starts them afresh; a modest rate keeps
// those first steps from undoing what earlier runs learned.
const learningRate = 1e-3

// startTraining prepares m for steps, seeding Dropout with seed.
func (m *model) startTraining(seed uint64) error {
	if m.trainer != nil {
		return nil
	}
	t, err := engine.NewTrainer(m.eng, engine.TrainConfig{Output: portae.Output, Loss: engine.BCE, LR: learningRate, Seed: seed})
	if err != nil {
		return err
	}
	m.trainer = t
	return nil
}

// step takes one Adam step on inputs x toward targets y, with the loss the
// score uses (binary cross-entropy), and returns the loss before the step.
func (m *model) step(x, y *tensor.Dense) (float64, error) {
	if m.trainer == nil {
		return 0, fmt.Errorf("model not prepared for training")
	}
	return m.trainer.Step(map[string]*tensor.Dense{portae.Input: x}, y)
}
