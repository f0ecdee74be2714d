#include "textflag.h"

// Each constant eight times over, one 256-bit operand.
DATA sigSign<>+0(SB)/4, $0x80000000
DATA sigSign<>+4(SB)/4, $0x80000000
DATA sigSign<>+8(SB)/4, $0x80000000
DATA sigSign<>+12(SB)/4, $0x80000000
DATA sigSign<>+16(SB)/4, $0x80000000
DATA sigSign<>+20(SB)/4, $0x80000000
DATA sigSign<>+24(SB)/4, $0x80000000
DATA sigSign<>+28(SB)/4, $0x80000000
GLOBL sigSign<>(SB), RODATA|NOPTR, $32

DATA sigLog2e<>+0(SB)/4, $0x3fb8aa3b
DATA sigLog2e<>+4(SB)/4, $0x3fb8aa3b
DATA sigLog2e<>+8(SB)/4, $0x3fb8aa3b
DATA sigLog2e<>+12(SB)/4, $0x3fb8aa3b
DATA sigLog2e<>+16(SB)/4, $0x3fb8aa3b
DATA sigLog2e<>+20(SB)/4, $0x3fb8aa3b
DATA sigLog2e<>+24(SB)/4, $0x3fb8aa3b
DATA sigLog2e<>+28(SB)/4, $0x3fb8aa3b
GLOBL sigLog2e<>(SB), RODATA|NOPTR, $32

DATA sigHalf<>+0(SB)/4, $0x3f000000
DATA sigHalf<>+4(SB)/4, $0x3f000000
DATA sigHalf<>+8(SB)/4, $0x3f000000
DATA sigHalf<>+12(SB)/4, $0x3f000000
DATA sigHalf<>+16(SB)/4, $0x3f000000
DATA sigHalf<>+20(SB)/4, $0x3f000000
DATA sigHalf<>+24(SB)/4, $0x3f000000
DATA sigHalf<>+28(SB)/4, $0x3f000000
GLOBL sigHalf<>(SB), RODATA|NOPTR, $32

DATA sigC1<>+0(SB)/4, $0x3f318000
DATA sigC1<>+4(SB)/4, $0x3f318000
DATA sigC1<>+8(SB)/4, $0x3f318000
DATA sigC1<>+12(SB)/4, $0x3f318000
DATA sigC1<>+16(SB)/4, $0x3f318000
DATA sigC1<>+20(SB)/4, $0x3f318000
DATA sigC1<>+24(SB)/4, $0x3f318000
DATA sigC1<>+28(SB)/4, $0x3f318000
GLOBL sigC1<>(SB), RODATA|NOPTR, $32

DATA sigC2<>+0(SB)/4, $0x395e8083
DATA sigC2<>+4(SB)/4, $0x395e8083
DATA sigC2<>+8(SB)/4, $0x395e8083
DATA sigC2<>+12(SB)/4, $0x395e8083
DATA sigC2<>+16(SB)/4, $0x395e8083
DATA sigC2<>+20(SB)/4, $0x395e8083
DATA sigC2<>+24(SB)/4, $0x395e8083
DATA sigC2<>+28(SB)/4, $0x395e8083
GLOBL sigC2<>(SB), RODATA|NOPTR, $32

DATA sigOne<>+0(SB)/4, $0x3f800000
DATA sigOne<>+4(SB)/4, $0x3f800000
DATA sigOne<>+8(SB)/4, $0x3f800000
DATA sigOne<>+12(SB)/4, $0x3f800000
DATA sigOne<>+16(SB)/4, $0x3f800000
DATA sigOne<>+20(SB)/4, $0x3f800000
DATA sigOne<>+24(SB)/4, $0x3f800000
DATA sigOne<>+28(SB)/4, $0x3f800000
GLOBL sigOne<>(SB), RODATA|NOPTR, $32

DATA sigMin<>+0(SB)/4, $0xc2ae0000
DATA sigMin<>+4(SB)/4, $0xc2ae0000
DATA sigMin<>+8(SB)/4, $0xc2ae0000
DATA sigMin<>+12(SB)/4, $0xc2ae0000
DATA sigMin<>+16(SB)/4, $0xc2ae0000
DATA sigMin<>+20(SB)/4, $0xc2ae0000
DATA sigMin<>+24(SB)/4, $0xc2ae0000
DATA sigMin<>+28(SB)/4, $0xc2ae0000
GLOBL sigMin<>(SB), RODATA|NOPTR, $32

DATA sigBias<>+0(SB)/4, $0x0000007f
DATA sigBias<>+4(SB)/4, $0x0000007f
DATA sigBias<>+8(SB)/4, $0x0000007f
DATA sigBias<>+12(SB)/4, $0x0000007f
DATA sigBias<>+16(SB)/4, $0x0000007f
DATA sigBias<>+20(SB)/4, $0x0000007f
DATA sigBias<>+24(SB)/4, $0x0000007f
DATA sigBias<>+28(SB)/4, $0x0000007f
GLOBL sigBias<>(SB), RODATA|NOPTR, $32

DATA sigP0<>+0(SB)/4, $0x39506967
DATA sigP0<>+4(SB)/4, $0x39506967
DATA sigP0<>+8(SB)/4, $0x39506967
DATA sigP0<>+12(SB)/4, $0x39506967
DATA sigP0<>+16(SB)/4, $0x39506967
DATA sigP0<>+20(SB)/4, $0x39506967
DATA sigP0<>+24(SB)/4, $0x39506967
DATA sigP0<>+28(SB)/4, $0x39506967
GLOBL sigP0<>(SB), RODATA|NOPTR, $32

DATA sigP1<>+0(SB)/4, $0x3ab743ce
DATA sigP1<>+4(SB)/4, $0x3ab743ce
DATA sigP1<>+8(SB)/4, $0x3ab743ce
DATA sigP1<>+12(SB)/4, $0x3ab743ce
DATA sigP1<>+16(SB)/4, $0x3ab743ce
DATA sigP1<>+20(SB)/4, $0x3ab743ce
DATA sigP1<>+24(SB)/4, $0x3ab743ce
DATA sigP1<>+28(SB)/4, $0x3ab743ce
GLOBL sigP1<>(SB), RODATA|NOPTR, $32

DATA sigP2<>+0(SB)/4, $0x3c088908
DATA sigP2<>+4(SB)/4, $0x3c088908
DATA sigP2<>+8(SB)/4, $0x3c088908
DATA sigP2<>+12(SB)/4, $0x3c088908
DATA sigP2<>+16(SB)/4, $0x3c088908
DATA sigP2<>+20(SB)/4, $0x3c088908
DATA sigP2<>+24(SB)/4, $0x3c088908
DATA sigP2<>+28(SB)/4, $0x3c088908
GLOBL sigP2<>(SB), RODATA|NOPTR, $32

DATA sigP3<>+0(SB)/4, $0x3d2aa9c1
DATA sigP3<>+4(SB)/4, $0x3d2aa9c1
DATA sigP3<>+8(SB)/4, $0x3d2aa9c1
DATA sigP3<>+12(SB)/4, $0x3d2aa9c1
DATA sigP3<>+16(SB)/4, $0x3d2aa9c1
DATA sigP3<>+20(SB)/4, $0x3d2aa9c1
DATA sigP3<>+24(SB)/4, $0x3d2aa9c1
DATA sigP3<>+28(SB)/4, $0x3d2aa9c1
GLOBL sigP3<>(SB), RODATA|NOPTR, $32

DATA sigP4<>+0(SB)/4, $0x3e2aaaaa
DATA sigP4<>+4(SB)/4, $0x3e2aaaaa
DATA sigP4<>+8(SB)/4, $0x3e2aaaaa
DATA sigP4<>+12(SB)/4, $0x3e2aaaaa
DATA sigP4<>+16(SB)/4, $0x3e2aaaaa
DATA sigP4<>+20(SB)/4, $0x3e2aaaaa
DATA sigP4<>+24(SB)/4, $0x3e2aaaaa
DATA sigP4<>+28(SB)/4, $0x3e2aaaaa
GLOBL sigP4<>(SB), RODATA|NOPTR, $32

DATA sigP5<>+0(SB)/4, $0x3f000000
DATA sigP5<>+4(SB)/4, $0x3f000000
DATA sigP5<>+8(SB)/4, $0x3f000000
DATA sigP5<>+12(SB)/4, $0x3f000000
DATA sigP5<>+16(SB)/4, $0x3f000000
DATA sigP5<>+20(SB)/4, $0x3f000000
DATA sigP5<>+24(SB)/4, $0x3f000000
DATA sigP5<>+28(SB)/4, $0x3f000000
GLOBL sigP5<>(SB), RODATA|NOPTR, $32

// func sigmoid8(y, x []float32)
// y = 1/(1+e^-x) for the first len(x)&^7 elements, eight at a time: the
// expNeg polynomial on -|x|, then 1/(1+e) or e/(1+e) by the sign of x.
// Lanes with |x| > 87 give exactly 0 or 1, where expNeg would go subnormal.
TEXT ·sigmoid8(SB), NOSPLIT, $0-48
	MOVQ         y_base+0(FP), DI
	MOVQ         x_base+24(FP), SI
	MOVQ         x_len+32(FP), CX
	SHRQ         $3, CX
	JZ           done
	VMOVUPS      sigOne<>(SB), Y10
	VMOVUPS      sigMin<>(SB), Y12

loop:
	VMOVUPS      (SI), Y0
	VORPS        sigSign<>(SB), Y0, Y1
	VCMPPS       $1, Y12, Y1, Y8
	VMAXPS       Y1, Y12, Y1
	VMULPS       sigLog2e<>(SB), Y1, Y2
	VSUBPS       sigHalf<>(SB), Y2, Y2
	VCVTTPS2DQ   Y2, Y3
	VCVTDQ2PS    Y3, Y2
	VMOVAPS      Y1, Y4
	VFNMADD231PS sigC1<>(SB), Y2, Y4
	VFMADD231PS  sigC2<>(SB), Y2, Y4
	VMOVUPS      sigP0<>(SB), Y5
	VFMADD213PS  sigP1<>(SB), Y4, Y5
	VFMADD213PS  sigP2<>(SB), Y4, Y5
	VFMADD213PS  sigP3<>(SB), Y4, Y5
	VFMADD213PS  sigP4<>(SB), Y4, Y5
	VFMADD213PS  sigP5<>(SB), Y4, Y5
	VMULPS       Y4, Y4, Y6
	VADDPS       Y10, Y4, Y7
	VFMADD231PS  Y6, Y5, Y7
	VPADDD       sigBias<>(SB), Y3, Y3
	VPSLLD       $23, Y3, Y3
	VMULPS       Y3, Y7, Y7
	VANDNPS      Y7, Y8, Y7
	VADDPS       Y10, Y7, Y9
	VBLENDVPS    Y0, Y7, Y10, Y11
	VDIVPS       Y9, Y11, Y11
	VMOVUPS      Y11, (DI)
	ADDQ         $32, SI
	ADDQ         $32, DI
	DECQ         CX
	JNZ          loop

done:
	VZEROUPPER
	RET
