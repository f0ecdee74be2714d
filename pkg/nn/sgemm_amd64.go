package nn

import (
	"runtime"
	"sync"
)

// A blocked single-precision GEMM around an AVX2/FMA 6×16 micro-kernel in
// the Goto/BLIS layout: gonum's Sgemm runs at a few GFLOP/s here, far
// behind onnxruntime, and the engine must stay within 2× of it.

//go:noescape
func kernel6x16(k int, a, b, c *float32, ldc int, alpha float32, add bool)

func cpuHasAVX2FMA() bool

// hasAVX2FMA asks the CPU once: CPUID traps to the hypervisor in a VM and
// cost a few percent of a run when asked on every product. Set once, never
// changed.
var hasAVX2FMA = sync.OnceValue(cpuHasAVX2FMA)

const (
	mr = 6    // micro-tile rows
	nr = 16   // micro-tile columns: two 8-float registers
	kc = 256  // depth of one packed block
	mc = 96   // rows of packed A per block (a multiple of mr)
	nc = 1024 // columns of packed B per block (a multiple of nr)
)

// matView reads element (i, j) at data[i*rs+j*cs], which covers a matrix
// and its transpose alike.
type matView struct {
	data   []float32
	rs, cs int
}

func (v matView) at(i, j int) []float32 { return v.data[i*v.rs+j*v.cs:] }

// fastGemm is gemmStrided on the micro-kernel; it returns false, leaving
// the work to gonum, on a CPU without AVX2 and FMA. scratch serves the
// product when it runs on this goroutine alone.
func fastGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, scratch *gemmScratch) bool {
	if !hasAVX2FMA() {
		return false
	}
	// beta 0 never reads C, as in BLAS: the first depth block overwrites it
	add := beta != 0
	for i := range m {
		row := c[i*ldc:][:n]
		switch {
		case !add && alpha == 0:
			clear(row)
		case add && beta != 1:
			for j := range row {
				row[j] *= beta
			}
		}
	}
	if alpha == 0 {
		return true
	}
	av, bv := matView{a, lda, 1}, matView{b, ldb, 1}
	if transA {
		av = matView{a, 1, lda}
	}
	if transB {
		bv = matView{b, 1, ldb}
	}
	// Split the output between the cores along its longer side, in whole
	// micro-tiles, once the product is big enough to pay for goroutines.
	workers := runtime.GOMAXPROCS(0)
	if m*n*k < 1<<21 || workers < 2 {
		gemmBlocked(m, n, k, alpha, av, bv, c, ldc, add, scratch)
		return true
	}
	var wg sync.WaitGroup
	if n >= m {
		step := (n/workers + nr) / nr * nr
		for j := 0; j < n; j += step {
			nb := min(step, n-j)
			wg.Go(func() { gemmBlocked(m, nb, k, alpha, av, matView{bv.at(0, j), bv.rs, bv.cs}, c[j:], ldc, add, nil) })
		}
	} else {
		step := (m/workers + mr) / mr * mr
		for i := 0; i < m; i += step {
			mb := min(step, m-i)
			wg.Go(func() { gemmBlocked(mb, n, k, alpha, matView{av.at(i, 0), av.rs, av.cs}, bv, c[i*ldc:], ldc, add, nil) })
		}
	}
	wg.Wait()
	return true
}

// gemmBlocked computes alpha·A·B into c (row stride ldc), adding to c's
// values when add is set, one packed block at a time so the kernel streams
// from cache.
func gemmBlocked(m, n, k int, alpha float32, a, b matView, c []float32, ldc int, add bool, scratch *gemmScratch) {
	// Sized to the product, not the block limits: the output layer runs one
	// narrow, shallow product per panel (k 16), and full-size buffers cost
	// a megabyte of allocation and clearing each time.
	kb0 := min(kc, k)
	pa, pb := scratch.bufs(kb0*min(mc, (m+mr-1)/mr*mr), kb0*min(nc, (n+nr-1)/nr*nr))
	var tile [mr * nr]float32
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			addBlock := add || pc > 0
			packB(pb, b, pc, jc, kb, nb)
			for ic := 0; ic < m; ic += mc {
				mb := min(mc, m-ic)
				packA(pa, a, ic, pc, mb, kb)
				for jr := 0; jr < nb; jr += nr {
					for ir := 0; ir < mb; ir += mr {
						ap, bp := &pa[ir*kb], &pb[jr*kb]
						ci := (ic+ir)*ldc + jc + jr
						if ir+mr <= mb && jr+nr <= nb {
							kernel6x16(kb, ap, bp, &c[ci], ldc, alpha, addBlock)
							continue
						}
						// an edge tile goes through a full-size buffer
						kernel6x16(kb, ap, bp, &tile[0], nr, alpha, false)
						for i := range min(mr, mb-ir) {
							row := c[ci+i*ldc:][:min(nr, nb-jr)]
							if !addBlock {
								clear(row)
							}
							for j := range row {
								row[j] += tile[i*nr+j]
							}
						}
					}
				}
			}
		}
	}
}

// packA lays rows i0..i0+mb, depth p0..p0+kb of a out as mr-row panels, mr
// values per depth step, zero-padding the last panel.
func packA(dst []float32, a matView, i0, p0, mb, kb int) {
	for ir := 0; ir < mb; ir += mr {
		panel := dst[ir*kb : (ir+mr)*kb]
		for i := range mr {
			if ir+i >= mb {
				for p := range kb {
					panel[p*mr+i] = 0
				}
				continue
			}
			src := a.at(i0+ir+i, p0)
			for p := range kb {
				panel[p*mr+i] = src[p*a.cs]
			}
		}
	}
}

// packB lays depth p0..p0+kb, columns j0..j0+nb of b out as nr-column
// panels, nr values per depth step, zero-padding the last panel. It reads
// along whichever axis b stores contiguously.
func packB(dst []float32, b matView, p0, j0, kb, nb int) {
	for jr := 0; jr < nb; jr += nr {
		w := min(nr, nb-jr)
		panel := dst[jr*kb : (jr+nr)*kb]
		if b.cs == 1 {
			for p := range kb {
				out := panel[p*nr : (p+1)*nr]
				copy(out, b.at(p0+p, j0+jr)[:w])
				clear(out[w:])
			}
			continue
		}
		// a transposed operand: each column is contiguous
		for j := range w {
			src := b.at(p0, j0+jr+j)
			for p := range kb {
				panel[p*nr+j] = src[p*b.rs]
			}
		}
		if w < nr {
			for p := range kb {
				clear(panel[p*nr+w : (p+1)*nr])
			}
		}
	}
}
