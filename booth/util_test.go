package booth_test

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
)

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func sriOf(b []byte) string {
	s := sha512.Sum384(b)
	return "sha384-" + base64.StdEncoding.EncodeToString(s[:])
}
