#include "textflag.h"

// func dotsAVX2(codes []int8, q []int16, out []int32)
TEXT ·dotsAVX2(SB), NOSPLIT, $0-72
	MOVQ codes_base+0(FP), SI
	MOVQ q_base+24(FP), DX
	MOVQ q_len+32(FP), CX
	MOVQ out_base+48(FP), DI
	MOVQ out_len+56(FP), R8

row:
	TESTQ R8, R8
	JZ    done
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	XORQ  AX, AX

col:
	// 32 codes: sign-extend each half to 16 int16, multiply by the query
	// and add adjacent pairs into 8 int32 lanes, accumulate.
	VPMOVSXBW (SI)(AX*1), Y2
	VPMOVSXBW 16(SI)(AX*1), Y3
	VPMADDWD  (DX)(AX*2), Y2, Y2
	VPMADDWD  32(DX)(AX*2), Y3, Y3
	VPADDD    Y2, Y0, Y0
	VPADDD    Y3, Y1, Y1
	ADDQ      $32, AX
	CMPQ      AX, CX
	JB        col

	// Sum the 16 lanes into out[r].
	VPADDD       Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD       X1, X0, X0
	VPHADDD      X0, X0, X0
	VPHADDD      X0, X0, X0
	MOVL         X0, (DI)
	ADDQ         CX, SI
	ADDQ         $4, DI
	DECQ         R8
	JMP          row

done:
	VZEROUPPER
	RET
