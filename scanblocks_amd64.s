//go:build amd64 && !purego

#include "textflag.h"

// The byte constants of blockMasks, each broadcast over 16 bytes.
DATA blockConsts<>+0x00(SB)/8, $0x0909090909090909 // '\t'
DATA blockConsts<>+0x08(SB)/8, $0x0909090909090909
DATA blockConsts<>+0x10(SB)/8, $0x0a0a0a0a0a0a0a0a // '\n'
DATA blockConsts<>+0x18(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA blockConsts<>+0x20(SB)/8, $0x0d0d0d0d0d0d0d0d // '\r'
DATA blockConsts<>+0x28(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA blockConsts<>+0x30(SB)/8, $0x1f1f1f1f1f1f1f1f // below ' '
DATA blockConsts<>+0x38(SB)/8, $0x1f1f1f1f1f1f1f1f
DATA blockConsts<>+0x40(SB)/8, $0x7f7f7f7f7f7f7f7f // DEL
DATA blockConsts<>+0x48(SB)/8, $0x7f7f7f7f7f7f7f7f
DATA blockConsts<>+0x50(SB)/8, $0x2020202020202020 // ' ', and the case bit
DATA blockConsts<>+0x58(SB)/8, $0x2020202020202020
DATA blockConsts<>+0x60(SB)/8, $0x6060606060606060 // before 'a'
DATA blockConsts<>+0x68(SB)/8, $0x6060606060606060
DATA blockConsts<>+0x70(SB)/8, $0x7b7b7b7b7b7b7b7b // after 'z'
DATA blockConsts<>+0x78(SB)/8, $0x7b7b7b7b7b7b7b7b
DATA blockConsts<>+0x80(SB)/8, $0x2f2f2f2f2f2f2f2f // before '0'
DATA blockConsts<>+0x88(SB)/8, $0x2f2f2f2f2f2f2f2f
DATA blockConsts<>+0x90(SB)/8, $0x3a3a3a3a3a3a3a3a // after '9'
DATA blockConsts<>+0x98(SB)/8, $0x3a3a3a3a3a3a3a3a
GLOBL blockConsts<>(SB), RODATA|NOPTR, $0xa0

// CHUNK classifies the 16 bytes at off(SI) and ORs their masks, shifted
// left by shift, into R8 (plane A), R9 (plane B) and R10 (ctl); X5 keeps
// the AND of the bytes' "allowed" flags. The compares are signed, so a
// byte of 0x80 or more, negative, is above no bound: it is no letter, no
// digit and not allowed.
//
//	X1 = ctl: x == '\t' | x == '\n' | x == '\r'
//	X2 = allowed: 0x1f < x && x < 0x7f | ctl
//	X3 = letters: 0x60 < (x|0x20) && (x|0x20) < 0x7b
//	X2 = A: letters | 0x2f < x && x < 0x3a
//	X0 = B: letters | x == ' ' | ctl
#define CHUNK(off, shift) \
	MOVOU   off(SI), X0; \
	MOVOU   X0, X1; PCMPEQB X6, X1; \
	MOVOU   X0, X2; PCMPEQB X7, X2; POR X2, X1; \
	MOVOU   X0, X2; PCMPEQB X8, X2; POR X2, X1; \
	MOVOU   X0, X2; PCMPGTB X9, X2; \
	MOVOU   X10, X3; PCMPGTB X0, X3; PAND X3, X2; \
	POR     X1, X2; PAND X2, X5; \
	PMOVMSKB X1, AX; SHLQ $shift, AX; ORQ AX, R10; \
	MOVOU   X0, X2; POR X11, X2; \
	MOVOU   X2, X3; PCMPGTB X12, X3; \
	MOVOU   X13, X4; PCMPGTB X2, X4; PAND X4, X3; \
	MOVOU   X0, X2; PCMPGTB X14, X2; \
	MOVOU   X15, X4; PCMPGTB X0, X4; PAND X4, X2; \
	POR     X3, X2; \
	PMOVMSKB X2, AX; SHLQ $shift, AX; ORQ AX, R8; \
	PCMPEQB X11, X0; POR X1, X0; POR X3, X0; \
	PMOVMSKB X0, AX; SHLQ $shift, AX; ORQ AX, R9

// func blockMasks(blk string) (a, b, ctl uint64, ok bool)
TEXT ·blockMasks(SB), NOSPLIT, $0-41
	MOVQ    blk_base+0(FP), SI
	LEAQ    blockConsts<>(SB), DI
	MOVOU   0x00(DI), X6
	MOVOU   0x10(DI), X7
	MOVOU   0x20(DI), X8
	MOVOU   0x30(DI), X9
	MOVOU   0x40(DI), X10
	MOVOU   0x50(DI), X11
	MOVOU   0x60(DI), X12
	MOVOU   0x70(DI), X13
	MOVOU   0x80(DI), X14
	MOVOU   0x90(DI), X15
	PCMPEQB X5, X5
	XORQ    R8, R8
	XORQ    R9, R9
	XORQ    R10, R10
	CHUNK(0, 0)
	CHUNK(16, 16)
	CHUNK(32, 32)
	CHUNK(48, 48)
	MOVQ    R8, a+16(FP)
	MOVQ    R9, b+24(FP)
	MOVQ    R10, ctl+32(FP)
	PMOVMSKB X5, AX
	CMPL    AX, $0xffff
	SETEQ   ok+40(FP)
	RET
