package collect

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
)

// identityBytes of a capture's start are hashed for its identity: enough to
// tell captures apart (their first frames' times and bytes), little to read.
const identityBytes = 1 << 20

// captureIdentity names a capture file by its content, "<size>:<SHA-256 of
// the first MiB>", so a renamed or copied file is known again and a
// different file of the same name is not.
func captureIdentity(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("identify capture %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", 0, fmt.Errorf("identify capture %s: %w", path, err)
	}
	h := sha256.New()
	if _, err := io.CopyN(h, f, identityBytes); err != nil && err != io.EOF {
		return "", 0, fmt.Errorf("identify capture %s: %w", path, err)
	}
	return strconv.FormatInt(st.Size(), 10) + ":" + hex.EncodeToString(h.Sum(nil)), st.Size(), nil
}
