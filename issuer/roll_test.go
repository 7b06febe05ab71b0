package issuer_test

import (
	"testing"

	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/rolltest"
)

// TestMemRollConformance runs the Roll conformance suite on the in-memory
// reference roll.
func TestMemRollConformance(t *testing.T) {
	rolltest.Run(t, func(testing.TB) issuer.Roll { return issuer.NewMemRoll() })
}
