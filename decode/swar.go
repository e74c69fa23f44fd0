package decode

import "encoding/binary"

// SIMD within a register: eight pixels at a time in a uint64, lane k
// holding pixel k (little-endian load).

const (
	lanesHi = 0x8080808080808080
	lanesLo = 0x7f7f7f7f7f7f7f7f
	ones8   = 0x0101010101010101
	even16  = 0x00ff00ff00ff00ff
)

// lt returns a word whose lane high bits are set where x < y (unsigned),
// after Hacker's Delight.
func lt(x, y uint64) uint64 {
	d := (x | lanesHi) - (y & lanesLo) // high bit: low 7 bits of x >= those of y
	return ((^x & y) | (^(x ^ y) &^ d)) & lanesHi
}

// laneMask widens lane high bits to whole lanes.
func laneMask(hi uint64) uint64 { return (hi >> 7) * 0xff }

// minMax8 returns the lane-wise minimum and maximum of a and b.
func minMax8(a, b uint64) (uint64, uint64) {
	m := laneMask(lt(a, b)) // lanes where a < b
	return b ^ ((a ^ b) & m), a ^ ((a ^ b) & m)
}

// gather packs lane high bits into a byte: bit k set when lane k's is.
func gather(hi uint64) uint8 {
	return uint8(((hi >> 7) * 0x0102040810204080) >> 56)
}

// le64 loads eight bytes little-endian.
func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
