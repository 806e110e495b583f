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

// MASKT is MASK2 with the temporary register T.
#define MASKT(BCAST, R, T) \
	VPCMPEQB BCAST, Y0, Y8; VPMOVMSKB Y8, R; \
	VPCMPEQB BCAST, Y1, Y9; VPMOVMSKB Y9, T; SHLQ $32, T; ORQ T, R

// EMIT writes base plus the offset of the lowest bit of R9 to OFF(DI) and clears the bit.
#define EMIT(OFF) TZCNTQ R9, CX; ADDQ R10, CX; MOVL CX, OFF(DI); BLSRQ R9, R9

// func scanBlocksAVX2(data []byte, ends []int32, st *scanState) int
//
// scanState.block for each block, with classify inlined and the state in registers:
// SI data, DX the last base a whole block fits at, R10 base, DI the next free
// element of ends, R8 the last one a block's 64 separators fit after, R11 inside,
// R12 fieldAt, X12 stray, X13 carry (VEX-encoded throughout: a legacy SSE instruction
// with the upper halves of the Y registers in use stalls). Per block: AX qm then x, R9 seps, R13 stop,
// CX ^in then rm, BX a temporary then carry.
TEXT ·scanBlocksAVX2(SB), NOSPLIT, $8-64
	MOVQ data_base+0(FP), SI
	MOVQ data_len+8(FP), DX
	SUBQ $64, DX
	MOVQ ends_base+24(FP), DI
	MOVQ ends_len+32(FP), R8
	CMPQ R8, $64
	JLT  none
	LEAQ -256(DI)(R8*4), R8
	MOVQ st+48(FP), R9
	MOVQ 0(R9), R10
	MOVQ 8(R9), R11
	MOVQ 16(R9), R12
	VMOVQ 24(R9), X12
	VMOVQ 32(R9), X13

	VPBROADCASTB ·classifyBytes+0(SB), Y4
	VPBROADCASTB ·classifyBytes+1(SB), Y5
	VPBROADCASTB ·classifyBytes+2(SB), Y6
	VPBROADCASTB ·classifyBytes+3(SB), Y7
	VPCMPEQB     X11, X11, X11

block:
	CMPQ R10, DX
	JGT  stop
	CMPQ DI, R8
	JHI  stop
	VMOVDQU (SI)(R10*1), Y0
	VMOVDQU 32(SI)(R10*1), Y1
	MASKT(Y4, AX, BX)

	// in = prefixXOR(qm) ^ inside, and inside from its top bit.
	// The carry-less product with all ones is the prefix XOR.
	VMOVQ      AX, X10
	VPCLMULQDQ $0x00, X11, X10, X10
	VMOVQ      X10, CX
	XORQ       R11, CX
	MOVQ CX, R11
	SARQ $63, R11
	NOTQ CX

	MASKT(Y5, R9, BX)
	ANDQ CX, R9 // seps
	MASKT(Y6, R13, BX)
	ANDQ CX, R13 // stop
	MASKT(Y7, CX, BX) // rm

	// Cut the masks before the terminator: before = (stop ^ (stop-1)) >> 1.
	TESTQ R13, R13
	JZ    strays
	MOVQ  R13, BX
	DECQ  BX
	XORQ  R13, BX
	SHRQ  $1, BX
	ANDQ  BX, AX
	ANDQ  BX, R9
	ANDQ  BX, CX

strays:
	// x = qm &^ (seps<<1 | fieldAt | seps>>1) | rm; fieldAt = seps>>63.
	MOVQ R9, BX
	SHLQ $1, BX
	ORQ  R12, BX
	MOVQ R9, R12
	SHRQ $1, R12
	ORQ  R12, BX
	NOTQ BX
	ANDQ BX, AX
	ORQ  CX, AX
	MOVQ R9, R12
	SHRQ $63, R12

	// carry &^= seps << 63
	VMOVQ X13, BX
	MOVQ R9, CX
	SHLQ $63, CX
	NOTQ CX
	ANDQ CX, BX

	// Write the separators' offsets eight at a time, whatever their count (a
	// branch per separator mispredicts once a block), and advance DI by the count;
	// TZCNT of no bit left gives 64, a harmless value in the slack after them.
	POPCNTQ R9, CX
	LEAQ    (DI)(CX*4), CX
	MOVQ    CX, next-8(SP)

emit8:
	EMIT(0)
	EMIT(4)
	EMIT(8)
	EMIT(12)
	EMIT(16)
	EMIT(20)
	EMIT(24)
	EMIT(28)
	ADDQ  $32, DI
	TESTQ R9, R9
	JNZ   emit8
	MOVQ  next-8(SP), DI

	TESTQ R13, R13
	JNZ   found

	// stray |= carry | x &^ (3<<62); carry = x & (3<<62)
	MOVQ AX, CX
	SHLQ $2, CX
	SHRQ $2, CX
	ORQ  BX, CX
	VMOVQ CX, X14
	VPOR X14, X12, X12
	SHRQ $62, AX
	SHLQ $62, AX
	VMOVQ AX, X13
	ADDQ $64, R10
	JMP  block

found:
	VMOVQ BX, X13
	BSFQ  R13, R13
	ADDQ  R10, R13
	MOVQ  st+48(FP), R9
	MOVQ  AX, 40(R9)
	MOVQ  R13, 48(R9)

stop:
	MOVQ st+48(FP), R9
	MOVQ R10, 0(R9)
	MOVQ R11, 8(R9)
	MOVQ R12, 16(R9)
	VMOVQ X12, 24(R9)
	VMOVQ X13, 32(R9)
	VZEROUPPER
	SUBQ ends_base+24(FP), DI
	SHRQ $2, DI
	MOVQ DI, ret+56(FP)
	RET

none:
	MOVQ $0, ret+56(FP)
	RET
