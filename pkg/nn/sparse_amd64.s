#include "textflag.h"

// func zeroBlocks(x *float32, blocks int) int
// The number of leading 32-float blocks of x whose values are all ±0.
TEXT ·zeroBlocks(SB), NOSPLIT, $0-24
	MOVQ         x+0(FP), SI
	MOVQ         blocks+8(FP), CX
	XORQ         AX, AX
	MOVL         $0x7fffffff, DX
	MOVQ         DX, X4
	VPBROADCASTD X4, Y4

zloop:
	CMPQ    AX, CX
	JGE     zdone
	VMOVDQU (SI), Y0
	VPOR    32(SI), Y0, Y0
	VMOVDQU 64(SI), Y1
	VPOR    96(SI), Y1, Y1
	VPOR    Y1, Y0, Y0
	VPTEST  Y4, Y0
	JNZ     zdone
	ADDQ    $128, SI
	INCQ    AX
	JMP     zloop

zdone:
	VZEROUPPER
	MOVQ AX, ret+16(FP)
	RET

// func fmaAxpy(y, x []float32, a float32)
// y[i] = fma(x[i], a, y[i]) for i < len(y), one rounding each, as the
// gemm micro-kernel accumulates.
TEXT ·fmaAxpy(SB), NOSPLIT, $0-52
	MOVQ         y_base+0(FP), DI
	MOVQ         y_len+8(FP), CX
	MOVQ         x_base+24(FP), SI
	VBROADCASTSS a+48(FP), Y15

aloop8:
	CMPQ        CX, $8
	JLT         aloop1
	VMOVUPS     (DI), Y0
	VFMADD231PS (SI), Y15, Y0
	VMOVUPS     Y0, (DI)
	ADDQ        $32, DI
	ADDQ        $32, SI
	SUBQ        $8, CX
	JMP         aloop8

aloop1:
	TESTQ       CX, CX
	JZ          adone
	VMOVSS      (DI), X0
	VMOVSS      (SI), X1
	VFMADD231SS X1, X15, X0
	VMOVSS      X0, (DI)
	ADDQ        $4, DI
	ADDQ        $4, SI
	DECQ        CX
	JMP         aloop1

adone:
	VZEROUPPER
	RET
