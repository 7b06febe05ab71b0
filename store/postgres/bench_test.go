package postgres_test

import (
	"testing"

	"github.com/evote/evote/store/storetest"
)

// BenchmarkAppend is store/bolt's BenchmarkAppend on PostgreSQL: 300-byte
// leaves with unique keys from 64 goroutines per core, with and without
// group commit. Run both in one session to compare (BENCHMARKS.md).
func BenchmarkAppend(b *testing.B) { storetest.BenchmarkAppend(b, newEngine) }
