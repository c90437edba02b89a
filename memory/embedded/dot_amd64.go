package embedded

import "golang.org/x/sys/cpu"

// dotsAVX2 is dotsGo in AVX2 assembly (dot_amd64.s): 32 codes per step,
// sign-extended to int16 and multiplied pairwise into int32 lanes. len(q)
// must be a positive multiple of 32, and codes hold len(out) rows of
// len(q) codes.
//
//go:noescape
func dotsAVX2(codes []int8, q []int16, out []int32)

var haveAVX2 = cpu.X86.HasAVX2

// dots is the pre-scan kernel: AVX2 where the CPU has it.
func dots(codes []int8, q []int16, out []int32) {
	if haveAVX2 {
		dotsAVX2(codes, q, out)
		return
	}
	dotsGo(codes, q, out)
}
