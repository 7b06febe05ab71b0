module github.com/evote/evote/bench/peer

go 1.26.8

require (
	github.com/evote/evote v0.0.0
	github.com/gtank/ristretto255 v0.2.0
)

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	go.dedis.ch/fixbuf v1.0.3 // indirect
	go.dedis.ch/kyber/v3 v3.1.0
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/evote/evote => ../../../../..
