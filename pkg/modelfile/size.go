package modelfile

import (
	"fmt"

	"portwatch/pkg/features"
	"portwatch/pkg/portae"
)

// Budget is the most memory the tensors of one engine run may take, by
// Bytes' estimate. Detect's hourly run is meant to stay under 500 MB and
// uses about 200 MB of tensors at the default shape (T=10, C=4, batch 8);
// the budget leaves room for ten times the window, and refuses the shapes
// that would end in the runtime's out-of-memory crash.
const Budget = 1 << 30

// Bytes estimates the memory, in bytes, detect's tensors take for a model
// of window T and C channels trained batch windows at a time (training
// needs more than scoring). Per window: the input, T·C·65536 float32, the
// bulk; the per-round codes of the Conv layer; and a handful of [C, 65536]
// planes (output, logits, target, gradient). Once: the parameters four times
// over (weights, gradients, Adam's two moments), nearly all of them the
// output Gemm's (Bottleneck+1)·C·65536. A float64, so absurd shapes from a
// file cannot overflow it.
func Bytes(window, channels, batch int) float64 {
	t, c, n := float64(window), float64(channels), float64(batch)
	plane := c * features.Ports
	codes := float64(portae.Filters * features.Ports / portae.Kernel * 3)
	lstm := float64(4 * portae.Hidden * (portae.Filters*features.Ports/portae.Kernel/portae.Pool + portae.Hidden + 2))
	params := (portae.Bottleneck+1)*plane + lstm
	return 4 * (n*(t*(plane+codes)+4*plane) + 4*params)
}

// maxWindow is the largest window Bytes keeps within Budget, 0 if none.
func maxWindow(channels, batch int) int {
	lo, hi := 0, 1
	for Bytes(hi, channels, batch) <= Budget {
		lo, hi = hi, 2*hi
	}
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; Bytes(mid, channels, batch) <= Budget {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// CheckSize refuses a window, channel count and batch whose tensors would
// not fit in Budget, giving the windows that would.
func CheckSize(window, channels, batch int) error {
	if channels < 1 || batch < 1 {
		return fmt.Errorf("%d channels at batch %d: want at least 1 of each", channels, batch)
	}
	if b := Bytes(window, channels, batch); b > Budget {
		limit := fmt.Sprintf("want a window of 1..%d", maxWindow(channels, batch))
		if maxWindow(channels, batch) < 1 {
			limit = "no window fits; want fewer channels"
		}
		return fmt.Errorf("a window of %d rounds of %d channels at batch %d needs about %s of memory, more than the %s detect allows: %s",
			window, channels, batch, size(b), size(Budget), limit)
	}
	return nil
}

// size formats a byte count for a person.
func size(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for ; b >= 1024 && i < len(units)-1; i++ {
		b /= 1024
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}
