package store

import "unsafe"

// Boxing a packet's numbers and strings into driver values allocated five
// times per packet, most of ingest's garbage. A Writer keeps the boxes it
// made of the values that repeat: numbers up to 65535 (ports, lengths,
// flags) and the strings capture interns (addresses, names), whose equal
// values share their bytes.

// intBoxes holds int64(v) boxed for v in 0..65535, made on first use.
type intBoxes [1 << 16]any

// box returns int64(v) as a driver value.
func (b *intBoxes) box(v int) any {
	if v < 0 || v >= len(b) {
		return int64(v)
	}
	if b[v] == nil {
		b[v] = int64(v)
	}
	return b[v]
}

// stringBoxes is a direct-mapped cache of boxed strings by the address
// and length of their bytes: one comparison, no hashing of the text. The
// same address and length are the same bytes, which a string never changes,
// and the entry's reference keeps them from being reused.
type stringBoxes [512]struct {
	data *byte
	n    int
	v    any
}

// box returns s as a driver value, nil (NULL) for "".
func (b *stringBoxes) box(s string) any {
	if s == "" {
		return nil
	}
	p := unsafe.StringData(s)
	// Heap strings are at least 8-byte aligned: the bits above fill the slots.
	e := &b[(uintptr(unsafe.Pointer(p))>>3)%uintptr(len(b))]
	if e.data != p || e.n != len(s) {
		e.data, e.n, e.v = p, len(s), s
	}
	return e.v
}
