package nn

import (
	"runtime"
	"sync"
)

// parallelMin is the element count below which splitting work across
// goroutines costs more than it saves.
const parallelMin = 1 << 16

// parallel runs f over [0, n) in one contiguous chunk per CPU, or in one
// call when n is small.
func parallel(n int, f func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n/parallelMin)
	if workers < 2 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	step := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += step {
		wg.Go(func() { f(lo, min(lo+step, n)) })
	}
	wg.Wait()
}
