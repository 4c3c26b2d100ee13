// Package control is firewatch's outside vantage as a JSON-over-HTTP(S)
// service: the probe sends a target (and the addresses it resolved); the
// control measures it the same way from outside and returns the record, and
// tells the probe the address it sees it coming from. Server and Client live
// here; the verdict that compares both records is package verdict.
package control

import (
	"github.com/firewatch/firewatch/internal/model"
)

// API paths.
const (
	PathMeasure = "/v1/measure"
	PathWhoAmI  = "/v1/whoami"
	PathMetrics = "/metrics"
	PathHealth  = "/healthz"
)

// EnvURL and EnvToken name the environment variables giving the control's
// URL and bearer token to probes and to `firewatch control`.
const (
	EnvURL   = "FIREWATCH_CONTROL"
	EnvToken = "FIREWATCH_CONTROL_TOKEN"
)

// MaxAddrs bounds MeasureRequest.Addrs: a request with more is refused
// with 400. The control dials at most its --max-addrs of them and its own
// answers together.
const MaxAddrs = 32

// MeasureRequest is the body of POST /v1/measure.
type MeasureRequest struct {
	Target string `json:"target"` // a normalized target URL
	// Addrs are the addresses the probe resolved: the control also connects
	// (and handshakes) to them, so the verdict can tell whether they are the
	// service's own.
	Addrs []string `json:"addrs,omitempty"`
	// Resolvers are the probe's explicit resolvers ("udp://IP:PORT"): the
	// control asks each one the same A query from outside; a resolver that
	// refuses DNS outside but answered inside is evidence of injection.
	Resolvers []string `json:"resolvers,omitempty"`
	// HTTP3 asks the control to measure HTTP/3 for an https target even
	// when the site does not advertise it: the probe tried it inside.
	HTTP3 bool `json:"http3,omitempty"`
}

// MeasureResponse is the body of a successful POST /v1/measure.
type MeasureResponse struct {
	Measurement *model.Measurement `json:"measurement"`
	Client      ClientInfo         `json:"client"`
	Cached      bool               `json:"cached,omitempty"`
}

// ClientInfo is what the control sees of the client. The probe uses the
// address to find its country and network, and never stores it.
type ClientInfo struct {
	Address string `json:"address"`
}

// ErrorResponse is the body of every non-2xx answer.
type ErrorResponse struct {
	Error string `json:"error"`
}
