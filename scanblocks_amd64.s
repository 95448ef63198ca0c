//go:build amd64 && !purego

#include "textflag.h"

// The byte constants of blockMasks, each broadcast over 16 bytes.
DATA blockConsts<>+0x00(SB)/8, $0xfbfbfbfbfbfbfbfb // all but bit 2: '\t' and '\r' alike
DATA blockConsts<>+0x08(SB)/8, $0xfbfbfbfbfbfbfbfb
DATA blockConsts<>+0x10(SB)/8, $0x0909090909090909 // '\t'
DATA blockConsts<>+0x18(SB)/8, $0x0909090909090909
DATA blockConsts<>+0x20(SB)/8, $0x0a0a0a0a0a0a0a0a // '\n'
DATA blockConsts<>+0x28(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA blockConsts<>+0x30(SB)/8, $0x2020202020202020 // ' ', and the case bit
DATA blockConsts<>+0x38(SB)/8, $0x2020202020202020
DATA blockConsts<>+0x40(SB)/8, $0x1f1f1f1f1f1f1f1f // 0x80 - 'a' (after the case bit)
DATA blockConsts<>+0x48(SB)/8, $0x1f1f1f1f1f1f1f1f
DATA blockConsts<>+0x50(SB)/8, $0x9a9a9a9a9a9a9a9a // 'z' + 0x1f + 1
DATA blockConsts<>+0x58(SB)/8, $0x9a9a9a9a9a9a9a9a
DATA blockConsts<>+0x60(SB)/8, $0x5050505050505050 // 0x80 - '0'
DATA blockConsts<>+0x68(SB)/8, $0x5050505050505050
DATA blockConsts<>+0x70(SB)/8, $0x8a8a8a8a8a8a8a8a // '9' + 0x50 + 1
DATA blockConsts<>+0x78(SB)/8, $0x8a8a8a8a8a8a8a8a
GLOBL blockConsts<>(SB), RODATA|NOPTR, $0x80

// The registers of blockMasks: SI the block, X6 to X14 the constants,
// R8 plane A, R9 plane B, X5 the AND of every byte's "allowed" flag and
// X15 the OR of every byte's "control" flag.
//
// CHUNK classifies the 16 bytes at off(SI) and ORs their masks, shifted
// left by shift, into R8 and R9. The compares are signed, and each range
// test adds to the byte what brings the range's first value to 0x80, the
// smallest signed byte, so that one compare, "below the range's last
// value plus one", tests the range: a byte outside it wraps above. With
// x the byte:
//
//	X1 = control: x&^4 == '\t' (tab, carriage return) | x == '\n'
//	X2 = allowed: x+1 > ' ' (0x20 to 0x7e: DEL and 0x80 and up wrap
//	     to 0x80 and 0x81 to 0x00, below) | control
//	X4 = letter: (x|0x20) + 0x1f < 0x9a ('a'..'z' to 0x80..0x99)
//	X3 = A: letter | x + 0x50 < 0x8a ('0'..'9' to 0x80..0x89)
//	X0 = B: letter | x == ' ' | control
#define CHUNK(off, shift) \
	MOVOU    off(SI), X0; \
	MOVOU    X0, X1; PAND X6, X1; PCMPEQB X7, X1; \
	MOVOU    X0, X2; PCMPEQB X8, X2; POR X2, X1; \
	MOVOU    X0, X2; PSUBB X11, X2; PCMPGTB X9, X2; \
	POR      X1, X2; PAND X2, X5; POR X1, X15; \
	MOVOU    X0, X3; POR X9, X3; PADDB X10, X3; MOVOU X12, X4; PCMPGTB X3, X4; \
	MOVOU    X0, X2; PADDB X13, X2; MOVOU X14, X3; PCMPGTB X2, X3; \
	POR      X4, X3; \
	PMOVMSKB X3, AX; SHLQ $shift, AX; ORQ AX, R8; \
	PCMPEQB  X9, X0; POR X1, X0; POR X4, X0; \
	PMOVMSKB X0, AX; SHLQ $shift, AX; ORQ AX, R9

// CTL ORs the control mask of the 16 bytes at off(SI), shifted left by
// shift, into R10: X1 of CHUNK again, for the blocks that hold one.
#define CTL(off, shift) \
	MOVOU    off(SI), X0; \
	MOVOU    X0, X1; PAND X6, X1; PCMPEQB X7, X1; \
	PCMPEQB  X8, X0; POR X0, X1; \
	PMOVMSKB X1, AX; SHLQ $shift, AX; ORQ AX, R10

// func blockMasks(blk string) (a, b, ctl uint64, ok bool)
TEXT ·blockMasks(SB), NOSPLIT, $0-41
	MOVQ    blk_base+0(FP), SI
	LEAQ    blockConsts<>(SB), DI
	MOVOU   0x00(DI), X6
	MOVOU   0x10(DI), X7
	MOVOU   0x20(DI), X8
	MOVOU   0x30(DI), X9
	MOVOU   0x40(DI), X10
	MOVOU   0x50(DI), X12
	MOVOU   0x60(DI), X13
	MOVOU   0x70(DI), X14
	PCMPEQB X11, X11 // all ones: x - X11 is x + 1
	PCMPEQB X5, X5
	PXOR    X15, X15
	XORQ    R8, R8
	XORQ    R9, R9
	XORQ    R10, R10
	CHUNK(0, 0)
	CHUNK(16, 16)
	CHUNK(32, 32)
	CHUNK(48, 48)
	MOVQ    R8, a+16(FP)
	MOVQ    R9, b+24(FP)
	PMOVMSKB X5, AX
	CMPL    AX, $0xffff
	SETEQ   ok+40(FP)
	PMOVMSKB X15, AX
	TESTL   AX, AX
	JNZ     controls
	MOVQ    R10, ctl+32(FP)
	RET

controls:
	CTL(0, 0)
	CTL(16, 16)
	CTL(32, 32)
	CTL(48, 48)
	MOVQ    R10, ctl+32(FP)
	RET
