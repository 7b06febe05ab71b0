//go:build !js

package issuerapi

import (
	"net/http"

	"github.com/evote/evote/internal/transport"
)

// NewClient returns a client for the issuer at baseURL (such as
// "https://issuer.example.org") over net/http; hc nil means
// http.DefaultClient.
func NewClient(baseURL string, hc *http.Client) *Client {
	return NewClientOver(baseURL, transport.HTTP(hc))
}
