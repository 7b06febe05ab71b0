package store_test

import (
	"testing"

	"github.com/evote/evote/store"
	"github.com/evote/evote/store/storetest"
)

// TestMemEngineConformance runs the engine conformance suite on the
// in-memory reference engine.
func TestMemEngineConformance(t *testing.T) {
	storetest.Run(t, func(testing.TB) (store.Engine, func() store.Engine) {
		return store.NewMemEngine(), nil
	})
}

func BenchmarkMemEngineAppend(b *testing.B) {
	storetest.BenchmarkAppend(b, func(testing.TB) (store.Engine, func() store.Engine) {
		return store.NewMemEngine(), nil
	})
}
