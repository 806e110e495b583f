//go:build !purego

#include "textflag.h"

// MASK compares the four 16-byte lanes X0-X3 with the byte broadcast in BCAST and
// leaves the 64-bit mask of the equal bytes in R (clobbers X8 and BX).
#define MASK(BCAST, R) \
	MOVOU X0, X8; PCMPEQB BCAST, X8; PMOVMSKB X8, R; \
	MOVOU X1, X8; PCMPEQB BCAST, X8; PMOVMSKB X8, BX; SHLQ $16, BX; ORQ BX, R; \
	MOVOU X2, X8; PCMPEQB BCAST, X8; PMOVMSKB X8, BX; SHLQ $32, BX; ORQ BX, R; \
	MOVOU X3, X8; PCMPEQB BCAST, X8; PMOVMSKB X8, BX; SHLQ $48, BX; ORQ BX, R

// MASK2 is MASK for the two 32-byte lanes Y0 and Y1 (clobbers Y8, Y9 and BX).
#define MASK2(BCAST, R) \
	VPCMPEQB BCAST, Y0, Y8; VPMOVMSKB Y8, R; \
	VPCMPEQB BCAST, Y1, Y9; VPMOVMSKB Y9, BX; SHLQ $32, BX; ORQ BX, R

// classifyBytes holds the four bytes classify looks for, for VPBROADCASTB.
DATA ·classifyBytes+0(SB)/4, $0x0d0a2c22
GLOBL ·classifyBytes(SB), RODATA|NOPTR, $4

// func classify(b *[64]byte) (quote, comma, nl, cr uint64)
TEXT ·classify(SB), NOSPLIT, $0-40
	MOVQ b+0(FP), SI
	CMPB ·useAVX2(SB), $1
	JNE  sse2

	VMOVDQU 0(SI), Y0
	VMOVDQU 32(SI), Y1
	VPBROADCASTB ·classifyBytes+0(SB), Y4
	VPBROADCASTB ·classifyBytes+1(SB), Y5
	VPBROADCASTB ·classifyBytes+2(SB), Y6
	VPBROADCASTB ·classifyBytes+3(SB), Y7
	MASK2(Y4, CX)
	MOVQ CX, quote+8(FP)
	MASK2(Y5, CX)
	MOVQ CX, comma+16(FP)
	MASK2(Y6, CX)
	MOVQ CX, nl+24(FP)
	MASK2(Y7, CX)
	MOVQ CX, cr+32(FP)
	VZEROUPPER
	RET

sse2:
	MOVOU 0(SI), X0
	MOVOU 16(SI), X1
	MOVOU 32(SI), X2
	MOVOU 48(SI), X3

	MOVQ $0x2222222222222222, AX
	MOVQ AX, X4
	PUNPCKLQDQ X4, X4
	MOVQ $0x2c2c2c2c2c2c2c2c, AX
	MOVQ AX, X5
	PUNPCKLQDQ X5, X5
	MOVQ $0x0a0a0a0a0a0a0a0a, AX
	MOVQ AX, X6
	PUNPCKLQDQ X6, X6
	MOVQ $0x0d0d0d0d0d0d0d0d, AX
	MOVQ AX, X7
	PUNPCKLQDQ X7, X7

	MASK(X4, CX)
	MOVQ CX, quote+8(FP)
	MASK(X5, CX)
	MOVQ CX, comma+16(FP)
	MASK(X6, CX)
	MOVQ CX, nl+24(FP)
	MASK(X7, CX)
	MOVQ CX, cr+32(FP)
	RET
