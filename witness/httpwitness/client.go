package httpwitness

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// ErrConflict means the witness's latest cosigned size is not the old size
// sent: a *ConflictError carries the witness's size; retry with a
// consistency proof from it.
var ErrConflict = errors.New("httpwitness: witness has cosigned another size")

// ConflictError is a 409 answer: the witness last cosigned Size.
type ConflictError struct {
	Size uint64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("httpwitness: witness last cosigned size %d; retry with a consistency proof from %d", e.Size, e.Size)
}

// Is makes errors.Is(err, ErrConflict) hold.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// StatusError is any other refusal: the witness's HTTP status and message.
type StatusError struct {
	Code int
	Msg  string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("httpwitness: witness answered %d %s: %s", e.Code, http.StatusText(e.Code), e.Msg)
}

// maxResponse bounds a witness's answer.
const maxResponse = 16 << 10

// AddCheckpoint asks the witness at baseURL (its submission prefix) to
// cosign signed, a checkpoint note, given a consistency proof from oldSize,
// the size the caller believes the witness last cosigned (0 at first). It
// returns the witness's signature lines: append them to signed and open the
// result with store.OpenCosigned to check them. A 409 is a *ConflictError
// (errors.Is ErrConflict) naming the witness's size.
func AddCheckpoint(ctx context.Context, baseURL string, hc *http.Client, oldSize uint64, proof tlog.TreeProof, signed []byte) ([]byte, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	var body bytes.Buffer
	fmt.Fprintf(&body, "old %d\n", oldSize)
	for _, h := range proof {
		body.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
	}
	body.WriteString("\n")
	body.Write(signed)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(baseURL, "/")+"/add-checkpoint", &body)
	if err != nil {
		return nil, fmt.Errorf("httpwitness: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("httpwitness: asking witness %s: %w", baseURL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("httpwitness: reading answer of witness %s: %w", baseURL, err)
	}
	if len(data) > maxResponse {
		return nil, fmt.Errorf("httpwitness: answer of witness %s is over %d bytes", baseURL, maxResponse)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusConflict:
		s, ok := strings.CutSuffix(string(data), "\n")
		n, err := strconv.ParseUint(s, 10, 64)
		if !ok || err != nil || strconv.FormatUint(n, 10) != s {
			return nil, fmt.Errorf("httpwitness: witness %s answered 409 without a size", baseURL)
		}
		return nil, &ConflictError{Size: n}
	default:
		return nil, &StatusError{Code: resp.StatusCode, Msg: strings.TrimSpace(string(data))}
	}
	if len(data) == 0 || !bytes.HasSuffix(data, []byte("\n")) {
		return nil, fmt.Errorf("httpwitness: witness %s answered no signature lines", baseURL)
	}
	for _, l := range strings.SplitAfter(string(data[:len(data)-1]), "\n") {
		if !strings.HasPrefix(l, "— ") {
			return nil, fmt.Errorf("httpwitness: witness %s answered a line that is not a signature line", baseURL)
		}
	}
	return data, nil
}
