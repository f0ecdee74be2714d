package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gorgonia.org/tensor"

	"portwatch/pkg/nn"
	"portwatch/pkg/onnx"
)

// Loss names the loss a Trainer minimises.
type Loss string

// The losses a Trainer offers: mean squared error, and binary cross-entropy
// on probabilities (for a Sigmoid output such as portae's).
const (
	MSE Loss = "mse"
	BCE Loss = "bce"
)

// TrainConfig sets up a Trainer.
type TrainConfig struct {
	Output string  // the graph output the loss reads; default the first
	Loss   Loss    // default MSE
	LR     float64 // Adam's learning rate; default 1e-3
	Seed   uint64  // seeds Dropout masks: same seed, same steps
}

// Trainer fits a model's float32 initializers with Adam.
type Trainer struct {
	m      *Model
	cfg    TrainConfig
	rng    *rand.Rand
	adam   *nn.Adam
	path   map[string]bool
	names  []string // trainable parameters, in a fixed order for Adam
	params [][]float32
}

// NewTrainer prepares to train m; the model's own weights change with
// every Step.
func NewTrainer(m *Model, cfg TrainConfig) (*Trainer, error) {
	if cfg.Output == "" && len(m.outputs) > 0 {
		cfg.Output = m.outputs[0].Name
	}
	if !slices.ContainsFunc(m.outputs, func(v onnx.ValueInfo) bool { return v.Name == cfg.Output }) {
		return nil, fmt.Errorf("train model %s: no output %q", m.name, cfg.Output)
	}
	if cfg.Loss == "" {
		cfg.Loss = MSE
	}
	if cfg.Loss != MSE && cfg.Loss != BCE {
		return nil, fmt.Errorf("train model %s: unknown loss %q", m.name, cfg.Loss)
	}
	if cfg.LR == 0 {
		cfg.LR = 1e-3
	}
	t := &Trainer{
		m:    m,
		cfg:  cfg,
		rng:  rand.New(rand.NewPCG(cfg.Seed, 0x747261696e)), // "train"
		adam: nn.NewAdam(cfg.LR),
		path: m.gradPath(),
	}
	params := m.Params()
	for name := range params {
		t.names = append(t.names, name)
	}
	slices.Sort(t.names)
	for _, name := range t.names {
		t.params = append(t.params, params[name].Float32s())
	}
	if len(t.names) == 0 {
		return nil, fmt.Errorf("train model %s: no float32 initializers to train", m.name)
	}
	return t, nil
}

// Step runs one forward and backward pass on a batch and one Adam update,
// and returns the loss before the update.
func (t *Trainer) Step(inputs map[string]*tensor.Dense, target *tensor.Dense) (float64, error) {
	loss, err := t.step(inputs, target)
	if err != nil {
		return 0, fmt.Errorf("train model %s: %w", t.m.name, err)
	}
	return loss, nil
}

func (t *Trainer) step(inputs map[string]*tensor.Dense, target *tensor.Dense) (float64, error) {
	tr, err := t.m.forward(&nn.Pass{Train: true, Rand: t.rng}, inputs, true)
	if err != nil {
		return 0, err
	}
	lossFn := nn.MSE
	if t.cfg.Loss == BCE {
		lossFn = nn.BCE
	}
	loss, grad, err := lossFn(tr.values[t.cfg.Output], target)
	if err != nil {
		return 0, err
	}
	// One bad batch must not poison the weights detect is about to save.
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, fmt.Errorf("loss is %v; weights left unchanged", loss)
	}
	grads, err := t.m.backward(tr, t.path, t.cfg.Output, grad)
	if err != nil {
		return 0, err
	}
	gs := make([][]float32, len(t.names))
	for i, name := range t.names {
		if g := grads[name]; g != nil {
			gs[i] = g.Float32s()
		} else {
			gs[i] = make([]float32, len(t.params[i])) // not reached by this loss
		}
	}
	if err := t.adam.Step(t.params, gs); err != nil {
		return 0, err
	}
	return loss, nil
}
