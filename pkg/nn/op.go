// Package nn holds the tensor kernels of portwatch's ONNX engine: one type per
// ONNX op, each with a forward pass and, where gradients flow through it, a
// backward pass, plus the Adam optimizer and the losses used to train.
//
// Values are *tensor.Dense from gorgonia.org/tensor. Kernels work on the
// backing slices directly (see tensor.go) so the hot loops stay plain Go and
// BLAS calls. The graph that wires kernels together lives in pkg/engine.
package nn

import (
	"fmt"
	"math/rand/v2"

	"gorgonia.org/tensor"
)

// Pass says how a forward pass runs.
type Pass struct {
	// Train selects training behaviour: Dropout drops, and kernels return in
	// saved what their Backward needs.
	Train bool
	// Rand draws Dropout masks in training mode; seeded by the caller so that
	// training is deterministic for a given seed.
	Rand *rand.Rand
	// Buffers, when set, supplies the buffers of the outputs kernels
	// compute (see Floats); inference sets it, training does not.
	Buffers *Buffers
	// Spare marks the inputs of the node being run that nothing reads
	// after it and that share memory with no other value, so an
	// element-wise kernel may write its output over them. Set by the
	// engine before each node; nil means none.
	Spare []bool
	// Unread, when not nil, marks the outputs of the node being run that
	// nothing reads, one per output the node names; outputs past those are
	// unread too. A kernel may return nil for them rather than compute them.
	Unread []bool
}

// Floats returns a zeroed buffer of n values for an output, from p's pool
// when it has one.
func (p *Pass) Floats(n int) []float32 {
	if p == nil || p.Buffers == nil {
		return make([]float32, n)
	}
	return p.Buffers.take(n)
}

// unread reports whether output i may be left out (see Unread).
func (p *Pass) unread(i int) bool {
	return p != nil && p.Unread != nil && (i >= len(p.Unread) || p.Unread[i])
}

// spare reports whether in[i] may be overwritten (see Spare).
func (p *Pass) spare(i int) bool {
	return p != nil && i < len(p.Spare) && p.Spare[i]
}

// Op is one ONNX node's computation.
type Op interface {
	// Forward computes every output the op defines (all of them, in ONNX
	// order, even those the node leaves unnamed). Optional inputs the node
	// leaves empty are nil. saved carries what Backward needs; it is only
	// required when p.Train is set.
	Forward(p *Pass, in []*tensor.Dense) (out []*tensor.Dense, saved any, err error)
}

// Differentiable is an Op that gradients flow through.
type Differentiable interface {
	Op
	// Backward takes the forward inputs and outputs, the loss gradient for
	// each output (nil where an output does not reach the loss) and the saved
	// value of the matching Forward, and returns the gradient for each input:
	// nil for inputs that carry no gradient (shapes, indices, masks).
	Backward(in, out, gradOut []*tensor.Dense, saved any) (gradIn []*tensor.Dense, err error)
}

// PartialDifferentiable is a Differentiable that can leave out the input
// gradients nobody needs. need[i] false means input i's gradient may be nil;
// a nil need means every gradient is needed. The engine uses it where an
// input is the model's own input: for portae's first Conv that gradient is
// the largest tensor of a training step.
type PartialDifferentiable interface {
	Differentiable
	BackwardFor(need []bool, in, out, gradOut []*tensor.Dense, saved any) (gradIn []*tensor.Dense, err error)
}

// UnsupportedError reports an op, an attribute value or an input type that the
// engine does not implement. The engine adds the node and model names.
type UnsupportedError struct {
	Op     string
	Reason string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("unsupported op %s: %s", e.Op, e.Reason)
}

// Supported lists the op types New accepts.
func Supported() []string {
	return []string{
		"Add", "AveragePool", "BatchNormalization", "Cast", "Concat", "Constant", "ConstantOfShape",
		"Conv", "Div", "Dropout", "Expand", "Flatten", "GRU", "Gather", "Gemm", "Identity", "LSTM",
		"LeakyRelu", "MatMul", "MaxPool", "Mul", "Pad", "Pow", "RNN", "ReduceMax", "ReduceMean",
		"ReduceSum", "Relu", "Reshape", "Shape", "Sigmoid", "Slice", "Softmax", "Sqrt", "Squeeze",
		"Sub", "Tanh", "Transpose", "Unsqueeze",
	}
}

// New builds the kernel for one node of the given op type, at the opset the
// model imports for the default domain. Attributes the op does not define, or
// values outside what the kernel implements, give an *UnsupportedError.
func New(opType string, opset int, a Attrs) (Op, error) {
	switch opType {
	case "Add", "Sub", "Mul", "Div", "Pow":
		return newBinary(opType, opset, a)
	case "Relu", "Sigmoid", "Tanh", "LeakyRelu", "Sqrt":
		return newActivation(opType, opset, a)
	case "Gemm":
		return newGemm(opset, a)
	case "MatMul":
		return newMatMul(opset, a)
	case "Conv":
		return newConv(opset, a)
	case "MaxPool":
		return newMaxPool(opset, a)
	case "LSTM":
		return newLSTM(opset, a)
	case "GRU":
		return newGRU(opset, a)
	case "RNN":
		return newRNN(opset, a)
	case "Dropout":
		return newDropout(opset, a)
	case "Reshape":
		return newReshape(opset, a)
	case "Transpose":
		return newTranspose(opset, a)
	case "Squeeze", "Unsqueeze":
		return newSqueeze(opType, opset, a)
	case "Flatten":
		return newFlatten(opset, a)
	case "Slice":
		return newSlice(opset, a)
	case "Gather":
		return newGather(opset, a)
	case "Concat":
		return newConcat(opset, a)
	case "Shape":
		return newShape(opset, a)
	case "Constant":
		return newConstant(opset, a)
	case "ConstantOfShape":
		return newConstantOfShape(opset, a)
	case "Identity":
		return newIdentity(opset, a)
	case "Expand":
		return newExpand(opset, a)
	case "Cast":
		return newCast(opset, a)
	case "ReduceMean", "ReduceSum", "ReduceMax":
		return newReduce(opType, opset, a)
	case "Pad":
		return newPad(opset, a)
	case "Softmax":
		return newSoftmax(opset, a)
	case "BatchNormalization":
		return newBatchNorm(opset, a)
	case "AveragePool":
		return newAvgPool(opset, a)
	}
	return nil, &UnsupportedError{Op: opType, Reason: "not implemented by portwatch's engine"}
}
