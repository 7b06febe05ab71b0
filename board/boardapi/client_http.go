//go:build !js

package boardapi

import (
	"net/http"

	"github.com/evote/evote/internal/transport"
)

// NewClient returns a client for the board at baseURL (e.g.
// "https://board.example.org") over net/http. hc nil means
// http.DefaultClient.
func NewClient(baseURL string, hc *http.Client) *Client {
	return NewClientOver(baseURL, transport.HTTP(hc))
}
