package invite

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/issuerapi"
)

// ErrSMS means the SMS provider did not take a one-time code.
var ErrSMS = errors.New("invite: the SMS provider did not take the one-time code")

// DefaultSMSTimeout bounds one request to the SMS provider: the voter is
// waiting for the issuer's answer.
const DefaultSMSTimeout = 5 * time.Second

// SMSWebhookConfig names the SMS provider's webhook.
type SMSWebhookConfig struct {
	// URL is where the codes are POSTed: https, or http only to a
	// loopback address (a local gateway), as SMTP is plaintext only to
	// one.
	URL string
	// Token is sent as "Authorization: Bearer <Token>".
	Token string
	// Templates are the texts; nil: [DefaultCodeTemplates].
	Templates *CodeTemplates
	// RootCAs checks the provider's certificate; nil means the system's.
	RootCAs *x509.CertPool
	// Timeout bounds a request; 0 is DefaultSMSTimeout.
	Timeout time.Duration
}

// An SMSWebhook sends the issuer's one-time codes through an SMS
// provider's HTTP webhook: for each code, a POST of the JSON object
// {"to": "+39...", "text": "...", "lang": "it"} to the URL with the
// bearer token. A 2xx answer means sent; any other, a redirect included
// (never followed: the token and the number would go where the provider
// did not say), is an error naming the status alone. It is safe for
// concurrent use.
type SMSWebhook struct {
	url    string
	host   string // for errors
	token  string
	t      *CodeTemplates
	client *http.Client
	now    func() time.Time
}

// smsRequest is the webhook's body.
type smsRequest struct {
	To   string `json:"to"`
	Text string `json:"text"`
	Lang string `json:"lang"`
}

// NewSMSWebhook checks cfg and returns its SMSWebhook.
func NewSMSWebhook(cfg SMSWebhookConfig) (*SMSWebhook, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("invite: the SMS webhook %q is not an absolute URL such as https://sms.example.org/send", cfg.URL)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	case u.Scheme == "http":
		return nil, fmt.Errorf("invite: the SMS webhook %s is plain http to %s: the codes, the numbers and the token would cross the network in the clear; use https (http only to a loopback address)", u.Redacted(), u.Hostname())
	default:
		return nil, fmt.Errorf("invite: the SMS webhook %s is not https", u.Redacted())
	}
	if u.User != nil {
		return nil, fmt.Errorf("invite: the SMS webhook %s has a user and password in it; give the provider's token in the token file instead", u.Redacted())
	}
	if u.Fragment != "" {
		return nil, errors.New("invite: the SMS webhook has a #fragment, which is never sent: leave it out")
	}
	if cfg.Token == "" {
		return nil, errors.New("invite: the SMS webhook needs the provider's token")
	}
	for _, r := range cfg.Token {
		if r < 0x21 || r > 0x7e {
			return nil, errors.New("invite: the SMS webhook's token has a space, a control or a non-ASCII character in it: is the token file the provider's token alone?")
		}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultSMSTimeout
	}
	if cfg.Templates == nil {
		cfg.Templates = DefaultCodeTemplates()
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	return &SMSWebhook{
		url:   u.String(),
		host:  u.Host,
		token: cfg.Token,
		t:     cfg.Templates,
		now:   time.Now,
		client: &http.Client{
			Transport: tr,
			Timeout:   cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}, nil
}

// Send sends the one-time code c by SMS to c.To, in c.Lang.
func (w *SMSWebhook) Send(ctx context.Context, c issuer.OneTimeCode) error {
	if c.Factor != issuerapi.FactorSMS {
		return fmt.Errorf("invite: the SMS webhook sends %q codes, not %q", issuerapi.FactorSMS, c.Factor)
	}
	if !isPhone(c.To) {
		return errors.New("invite: the phone number is not 6 to 15 digits after an optional +")
	}
	text, lang, err := w.t.smsText(c, w.now())
	if err != nil {
		return err
	}
	body, err := json.Marshal(smsRequest{To: c.To, Text: text, Lang: lang})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSMS, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+w.token)
	resp, err := w.client.Do(req)
	if err != nil {
		// The URL is left out: its query may hold a provider's key.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return redact(fmt.Errorf("%w: POST to %s: %v", ErrSMS, w.host, err), c)
	}
	// Drained, so the connection is kept for the next code; the body is
	// never read into an error: a provider may echo the number.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code/100 == 2:
		return nil
	case code/100 == 3:
		return fmt.Errorf("%w: it answered %d %s; redirects are not followed: give the webhook's final URL", ErrSMS, code, http.StatusText(code))
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("%w: it answered %d %s: check the token file", ErrSMS, code, http.StatusText(code))
	default:
		// http.StatusText, not resp.Status: the reason phrase is the
		// provider's text and could echo the request.
		return fmt.Errorf("%w: it answered %d %s", ErrSMS, code, http.StatusText(code))
	}
}

// isPhone reports whether s is a phone number as the issuer's contacts
// keep it: 6 to 15 digits after an optional "+".
func isPhone(s string) bool {
	d := strings.TrimPrefix(s, "+")
	return len(d) >= 6 && len(d) <= 15 && strings.Trim(d, "0123456789") == ""
}
