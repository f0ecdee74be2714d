#include "textflag.h"

// func cpuHasAVX2FMA() bool
TEXT ·cpuHasAVX2FMA(SB), NOSPLIT, $0-1
	MOVL $1, AX
	XORL CX, CX
	CPUID
	// ECX bit 12 FMA, bit 27 OSXSAVE, bit 28 AVX
	ANDL $0x18001000, CX
	CMPL CX, $0x18001000
	JNE  no
	// the OS saves the YMM registers: XCR0 bits 1 and 2
	XORL CX, CX
	XGETBV
	ANDL $6, AX
	CMPL AX, $6
	JNE  no
	MOVL $7, AX
	XORL CX, CX
	CPUID
	// EBX bit 5 AVX2
	ANDL $0x20, BX
	JZ   no
	MOVB $1, ret+0(FP)
	RET

no:
	MOVB $0, ret+0(FP)
	RET

// c[i*ldc+j] += alpha * acc[i][j] for one row of 16: lo and hi hold the row.
#define STOREROW(lo, hi) \
	VMOVUPS     (DX), Y12        \
	VFMADD231PS lo, Y15, Y12     \
	VMOVUPS     Y12, (DX)        \
	VMOVUPS     32(DX), Y13      \
	VFMADD231PS hi, Y15, Y13     \
	VMOVUPS     Y13, 32(DX)      \
	ADDQ        R8, DX

// row r of the 6x16 tile: acc += a[r] * b[0:16]
#define FMAROW(off, lo, hi) \
	VBROADCASTSS off(SI), Y14    \
	VFMADD231PS  Y12, Y14, lo    \
	VFMADD231PS  Y13, Y14, hi

// c[i*ldc+j] = alpha * acc[i][j] for one row of 16.
#define SETROW(lo, hi) \
	VMULPS  lo, Y15, Y12 \
	VMOVUPS Y12, (DX)    \
	VMULPS  hi, Y15, Y13 \
	VMOVUPS Y13, 32(DX)  \
	ADDQ    R8, DX

// func kernel6x16(k int, a, b, c *float32, ldc int, alpha float32, add bool)
// c[6x16, row stride ldc] = alpha · a·b, plus c's old values when add is
// set; a is packed 6 floats per k, b 16 floats per k.
TEXT ·kernel6x16(SB), NOSPLIT, $0-45
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	TESTQ  CX, CX
	JZ     store

loop:
	VMOVUPS (DI), Y12
	VMOVUPS 32(DI), Y13
	FMAROW(0, Y0, Y1)
	FMAROW(4, Y2, Y3)
	FMAROW(8, Y4, Y5)
	FMAROW(12, Y6, Y7)
	FMAROW(16, Y8, Y9)
	FMAROW(20, Y10, Y11)
	ADDQ    $24, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     loop

store:
	SHLQ         $2, R8
	VBROADCASTSS alpha+40(FP), Y15
	MOVBQZX      add+44(FP), AX
	TESTQ        AX, AX
	JZ           set
	STOREROW(Y0, Y1)
	STOREROW(Y2, Y3)
	STOREROW(Y4, Y5)
	STOREROW(Y6, Y7)
	STOREROW(Y8, Y9)
	STOREROW(Y10, Y11)
	VZEROUPPER
	RET

set:
	SETROW(Y0, Y1)
	SETROW(Y2, Y3)
	SETROW(Y4, Y5)
	SETROW(Y6, Y7)
	SETROW(Y8, Y9)
	SETROW(Y10, Y11)
	VZEROUPPER
	RET
