package engine

import (
	"fmt"

	"portwatch/pkg/atomicfile"
	"portwatch/pkg/onnx"
)

// Encode returns the model file with the current weights and metadata: the
// original bytes with only the initializers and metadata_props rewritten.
func (m *Model) Encode() ([]byte, error) {
	b, err := onnx.Rewrite(m.file, m.Params(), m.meta)
	if err != nil {
		return nil, fmt.Errorf("encode model %s: %w", m.name, err)
	}
	return b, nil
}

// Save writes the model to path atomically: a temporary file beside it
// (mode 0600), fsync, the old file kept as path+".prev", the new one
// renamed into place, and the directory synced. A crash at any point leaves
// a complete model at path.
func (m *Model) Save(path string) error {
	b, err := m.Encode()
	if err != nil {
		return err
	}
	if err := WriteFile(path, b); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	m.file = b
	return nil
}

// WriteFile writes data to path atomically (mode 0600), keeping the
// previous file as path+".prev". A symbolic link at path is written through:
// the link's target is replaced and keeps its .prev beside it, and the link
// stays a link (a shared model linked from several places stays shared).
func WriteFile(path string, data []byte) error {
	real, err := atomicfile.Resolve(path)
	if err != nil {
		return err
	}
	return atomicfile.Write(real, data, atomicfile.Options{Mode: 0o600, KeepPrevious: true})
}
