package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/target"
)

// maxResponseBytes bounds a control's answer.
const maxResponseBytes = 64 << 20

// Client talks to a control. HTTP nil means a client with a 3-minute timeout.
type Client struct {
	URL   string // base URL, e.g. "http://192.0.2.10:8080"
	Token string // bearer token, if the control wants one
	HTTP  *http.Client
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: DefaultTimeout + time.Minute}
}

// maxRateRetries bounds how often a request refused by the control's rate
// limit (429) is retried, after the Retry-After it names (at most 10 s).
const maxRateRetries = 3

func (c *Client) do(ctx context.Context, method, path string, body any, out any) error {
	var payload []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		payload = b
	}
	for attempt := 0; ; attempt++ {
		err := c.once(ctx, method, path, payload, out)
		var se *StatusError
		if !errors.As(err, &se) || se.Code != http.StatusTooManyRequests || attempt >= maxRateRetries {
			return err
		}
		wait := se.RetryAfter
		if wait <= 0 {
			wait = time.Second
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(min(wait, 10*time.Second)):
		}
	}
}

func (c *Client) once(ctx context.Context, method, path string, payload []byte, out any) error {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.URL, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("control %s: %w", c.URL, err)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("control %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("control %s%s: reading the answer: %w", c.URL, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		se := &StatusError{Code: resp.StatusCode, Message: strings.TrimSpace(string(data))}
		var e ErrorResponse
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			se.Message = e.Error
		}
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
			se.RetryAfter = time.Duration(n) * time.Second
		}
		return se
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("control %s%s: bad answer: %w", c.URL, path, err)
	}
	return nil
}

// StatusError is a control's refusal or failure, with its HTTP status.
type StatusError struct {
	Code       int
	Message    string
	RetryAfter time.Duration // from a 429's Retry-After, if any
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("control answered %d: %s", e.Code, e.Message)
}

// Measure asks the control to measure t, also connecting to addrs (the
// addresses the probe resolved). The returned record has Vantage "control".
func (c *Client) Measure(ctx context.Context, t target.Target, addrs []string) (*model.Measurement, error) {
	resp, err := c.MeasureRequest(ctx, MeasureRequest{Target: t.String(), Addrs: addrs})
	if err != nil {
		return nil, err
	}
	return resp.Measurement, nil
}

// MeasureRequest sends a full request (with the probe's resolvers). Of more
// than MaxAddrs addresses it sends the first MaxAddrs (a forged answer with
// thousands of records must not cost the probe its control).
func (c *Client) MeasureRequest(ctx context.Context, req MeasureRequest) (*MeasureResponse, error) {
	if len(req.Addrs) > MaxAddrs {
		req.Addrs = req.Addrs[:MaxAddrs]
	}
	var resp MeasureResponse
	if err := c.do(ctx, http.MethodPost, PathMeasure, req, &resp); err != nil {
		return nil, err
	}
	if resp.Measurement == nil {
		return nil, fmt.Errorf("control %s: answer without a measurement", c.URL)
	}
	return &resp, nil
}

// WhoAmI returns the address the control sees this client coming from. Use
// it to look up country and network; never store it.
func (c *Client) WhoAmI(ctx context.Context) (netip.Addr, error) {
	var info ClientInfo
	if err := c.do(ctx, http.MethodGet, PathWhoAmI, nil, &info); err != nil {
		return netip.Addr{}, err
	}
	a, err := netip.ParseAddr(info.Address)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("control %s: whoami: bad address: %w", c.URL, err)
	}
	return a, nil
}
