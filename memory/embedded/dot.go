package embedded

// dotsGo is the portable kernel of the int8 pre-scan: out[r] is the dot
// product of row r of codes (rows of len(q) codes, len(q) a multiple of
// 4) with q. Every sum fits in int32 by construction of the query codes
// (see quantizeQuery).
func dotsGo(codes []int8, q []int16, out []int32) {
	w := len(q)
	for r := range out {
		row := codes[r*w : (r+1)*w]
		var s0, s1, s2, s3 int32
		for j := 0; j < w; j += 4 {
			s0 += int32(row[j]) * int32(q[j])
			s1 += int32(row[j+1]) * int32(q[j+1])
			s2 += int32(row[j+2]) * int32(q[j+2])
			s3 += int32(row[j+3]) * int32(q[j+3])
		}
		out[r] = s0 + s1 + s2 + s3
	}
}
