package verify_test

import (
	"bytes"
	"encoding/hex"
	"os"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/store"
	"github.com/evote/evote/verify"
)

// TestWorkedExample pins the worked example of SPEC.md §12: the figures
// printed there are the ones testdata/election.record yields.
func TestWorkedExample(t *testing.T) {
	rec, err := os.ReadFile("testdata/election.record")
	if err != nil {
		t.Fatal(err)
	}
	_, key := testKeys(t)
	rep, err := verify.Record(bytes.NewReader(rec), key, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	leaf8 := leaves(t, rec, key)[8]
	tc := ballot.TrackingCode(leaf8[1:])
	lh := store.LeafHash(leaf8)
	for name, got := range map[string]string{
		"manifest hash":     hex.EncodeToString(rep.ManifestHash[:]),
		"election key":      hex.EncodeToString(rep.ElectionKey),
		"root":              rep.Checkpoint.Hash.String(),
		"entry 8 tracking":  hex.EncodeToString(tc[:]),
		"entry 8 leaf hash": hex.EncodeToString(lh[:]),
	} {
		want := map[string]string{
			"manifest hash":     "9e2e7508497ceadf89d32574630bdbfcb833f8c90d2868e584220c32d48bb069",
			"election key":      "089f49ac28c6329da9a5b6243b118b415325b0443f7d3d9bf07e5f131e2af107",
			"root":              "1bJ8cPwQMmuw8EKZyDNoM0bYbXWGrwmCFdpdvvse0yY=",
			"entry 8 tracking":  "dde8fad49dc5e62d42ad11759aadfd2079bbe0bd192f61959e2cabd5bbf1fd04",
			"entry 8 leaf hash": "cae3cc12ba0220cd",
		}[name]
		if len(want) < len(got) {
			got = got[:len(want)]
		}
		if got != want {
			t.Errorf("%s: the record gives %s, SPEC.md §12 says %s", name, got, want)
		}
	}
	if rep.Posted == nil || !rep.Posted.Equal(rep.Result) || rep.Result.Counts[0][0] != 2 || rep.Result.Counts[0][1] != 1 {
		t.Errorf("result %+v, SPEC.md §12 says yes 2, no 1", rep.Result)
	}
}
