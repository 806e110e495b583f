//go:build !purego

#include "textflag.h"

// func skipPlain16(b []byte, j int, controls bool) int
TEXT ·skipPlain16(SB), NOSPLIT, $0-48
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), DX
	MOVQ j+24(FP), CX
	SUBQ $16, DX // the last offset a whole block starts at

	MOVQ $0x2222222222222222, AX
	MOVQ AX, X1
	PUNPCKLQDQ X1, X1
	MOVQ $0x5c5c5c5c5c5c5c5c, AX
	MOVQ AX, X2
	PUNPCKLQDQ X2, X2
	CMPB controls+32(FP), $0
	JNE  ctl

plain:
	CMPQ CX, DX
	JGT  done
	MOVOU (SI)(CX*1), X0
	MOVOU X0, X4
	PCMPEQB X1, X0
	PCMPEQB X2, X4
	POR X4, X0
	PMOVMSKB X0, AX
	TESTL AX, AX
	JNZ  found
	ADDQ $16, CX
	JMP  plain

ctl:
	MOVQ $0x1f1f1f1f1f1f1f1f, AX
	MOVQ AX, X3
	PUNPCKLQDQ X3, X3

ctlloop:
	CMPQ CX, DX
	JGT  done
	MOVOU (SI)(CX*1), X0
	MOVOU X0, X4
	MOVOU X0, X5
	PMINUB X3, X5 // min(c, 0x1f) == c: c < 0x20
	PCMPEQB X0, X5
	PCMPEQB X1, X0
	PCMPEQB X2, X4
	POR X4, X0
	POR X5, X0
	PMOVMSKB X0, AX
	TESTL AX, AX
	JNZ  found
	ADDQ $16, CX
	JMP  ctlloop

found:
	BSFL AX, AX
	ADDQ AX, CX

done:
	MOVQ CX, ret+40(FP)
	RET
