//go:build !amd64

package embedded

// dots is the pre-scan kernel.
func dots(codes []int8, q []int16, out []int32) { dotsGo(codes, q, out) }
