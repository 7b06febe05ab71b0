package ballot

import "github.com/evote/evote/crypto/zkp"

func proveSignature(e *Election, body []byte, v voter) ([]byte, error) {
	p, err := zkp.ProveSchnorr(nil, e.signatureContext(body), v.secret, v.key)
	if err != nil {
		return nil, err
	}
	return p.Bytes(), nil
}
