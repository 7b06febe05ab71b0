//go:build js && wasm

// Command wasm is the in-browser verifier: package verify and package
// report compiled to WebAssembly and run in the verifier page's Web Worker
// (package report/page builds the page). The reader drops a record file on
// the page; the worker verifies it against the board key pinned in the
// page and makes the same report `evote report` writes. The file is read
// from the reader's disk by the browser and never sent anywhere: the page
// may connect only to its own origin, and asks nothing of it after
// loading.
//
// It sets one function, evoteReport(record, boardKey, manifestHash, name)
// → Promise of {ok, failures, html, error}: record is a Uint8Array,
// manifestHash 64 hex digits or "" (not pinned), name the file's name for
// the report's verify command.
package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"syscall/js"

	"github.com/evote/evote/report"
	"github.com/evote/evote/verify"
)

func main() {
	js.Global().Set("evoteReport", js.FuncOf(call))
	js.Global().Call("evoteReady")
	select {}
}

func call(_ js.Value, args []js.Value) any {
	var resolve js.Value
	promise := js.Global().Get("Promise").New(js.FuncOf(func(_ js.Value, a []js.Value) any {
		resolve = a[0]
		return nil
	}))
	if len(args) != 4 {
		resolve.Invoke(map[string]any{"ok": false, "error": "evoteReport takes the record, the board key, the manifest hash and the file name"})
		return promise
	}
	record := make([]byte, args[0].Get("length").Int())
	js.CopyBytesToGo(record, args[0])
	key, pin, name := args[1].String(), args[2].String(), args[3].String()
	go func() {
		html, ok, failures, err := run(record, key, pin, name)
		out := map[string]any{"ok": ok, "failures": failures, "html": html}
		if err != nil {
			out["error"] = err.Error()
		}
		resolve.Invoke(out)
	}()
	return promise
}

// run verifies record and writes its report. A record that does not
// verify still gets a report (saying so); err is for a key or a pin that
// is not well-formed, or a file that could not be read as a record at all.
func run(record []byte, key, pin, name string) (html string, ok bool, failures int, err error) {
	v, err := verify.BoardKey(key)
	if err != nil {
		return "", false, 0, err
	}
	var want [32]byte
	if pin != "" {
		h, err := hex.DecodeString(pin)
		if err != nil || len(h) != 32 {
			return "", false, 0, errors.New("the pinned manifest hash is not 64 hex digits")
		}
		copy(want[:], h)
	}
	rep, verr := verify.Record(bytes.NewReader(record), v, verify.Options{Size: int64(len(record))})
	var ve *verify.Error
	if verr != nil && !errors.As(verr, &ve) {
		// Not a failed check but an unreadable file: the report still
		// shows what was checked before it.
		err = verr
	}
	if pin != "" && rep.OK {
		report.PinManifest(rep, want)
	}
	var buf bytes.Buffer
	if werr := report.Write(&buf, rep, report.Options{RecordName: name, BoardKey: key, ManifestPinned: pin != "" && rep.OK}); werr != nil {
		return "", false, rep.Failures, werr
	}
	return buf.String(), rep.OK, rep.Failures, err
}
