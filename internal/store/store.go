// Package store keeps the collector's data: measurements, the per-target and
// per-network history derived from them, confirmed status-change events,
// probe tokens and the "test now" queue. One schema, two backends: an embedded
// SQLite file (default) and PostgreSQL.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/firewatch/firewatch/internal/model"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// Store is the collector's storage. Implementations are safe for concurrent use.
type Store interface {
	// Insert stores measurements idempotently by ID and updates history and
	// events. It reports how many were new; already-stored IDs are skipped.
	Insert(ctx context.Context, ms []*model.Measurement) (inserted int, err error)

	// Measurement returns one stored measurement, as uploaded.
	Measurement(ctx context.Context, id string) (*model.Measurement, error)
	// Measurements lists measurements, newest first.
	Measurements(ctx context.Context, f Filter, p Page) ([]MeasurementRow, error)

	// Targets lists the current state of targets per network, matching f.
	Targets(ctx context.Context, f Filter, p Page) ([]TargetState, error)
	// TargetStates returns the state of one target in every network it was measured from.
	TargetStates(ctx context.Context, target string) ([]TargetState, error)
	// Timeline returns per-day counts for one target ("" for all targets).
	Timeline(ctx context.Context, target string, days int) ([]DayCount, error)

	// Events lists confirmed status changes, newest first.
	Events(ctx context.Context, f Filter, p Page) ([]Event, error)
	// KeywordStates returns the history of the words tested in a template
	// (its base target), blocked words first.
	KeywordStates(ctx context.Context, target string) ([]KeywordState, error)

	// Overview returns the counts shown on the dashboard's front page.
	Overview(ctx context.Context, f Filter) (Overview, error)

	// CreateToken makes a new probe upload token named name and returns the
	// secret (only its hash is stored).
	CreateToken(ctx context.Context, name string) (secret string, err error)
	// ListTokens lists tokens without their secrets.
	ListTokens(ctx context.Context) ([]Token, error)
	// RevokeToken revokes the token named name.
	RevokeToken(ctx context.Context, name string) error
	// Authenticate returns the token's name if secret is a valid, unrevoked token.
	Authenticate(ctx context.Context, secret string) (name string, err error)

	// Enqueue queues a target for the probes ("test now").
	Enqueue(ctx context.Context, target, requestedBy string) (QueueItem, error)
	// Dequeue leases up to n queued targets to the named agent for lease:
	// items never taken, and taken items whose lease ran out before a
	// measurement of them arrived. An item is done (never handed out again)
	// once Insert stores a probe measurement of its target taken after the
	// request.
	Dequeue(ctx context.Context, agent string, n int, lease time.Duration) ([]QueueItem, error)
	// Queue lists queue items, newest first.
	Queue(ctx context.Context, p Page) ([]QueueItem, error)

	// DNSHistory keeps the DNS scans' results (dns.go).
	DNSHistory

	Close() error
}

// Filter narrows lists. Zero fields match everything.
type Filter struct {
	Target   string // exact normalized target
	Query    string // substring of the target
	Country  string
	ASN      int
	Method   string
	Category string
	Status   string
	Since    time.Time
}

// Page selects a window of a list: Limit rows (0 means a default) after
// skipping Offset rows.
type Page struct {
	Limit  int
	Offset int
}

// MeasurementRow is a measurement's summary in lists.
type MeasurementRow struct {
	ID        string    `json:"id"`
	Target    string    `json:"target"`
	Category  string    `json:"category"`
	Country   string    `json:"country"`
	ASN       int       `json:"asn"`
	StartedAt time.Time `json:"started_at"`
	Status    string    `json:"status"`
	Methods   []string  `json:"methods"`
}

// TargetState is the history of one target in one network.
type TargetState struct {
	Target        string     `json:"target"`
	Category      string     `json:"category"`
	Country       string     `json:"country"`
	ASN           int        `json:"asn"`
	Status        string     `json:"status"`  // current confirmed status
	Methods       []string   `json:"methods"` // current confirmed methods
	BlockedSince  *time.Time `json:"blocked_since,omitempty"`
	LastChange    *time.Time `json:"last_change,omitempty"`
	LastTested    time.Time  `json:"last_tested"`
	Tests         int        `json:"tests"`         // all tests
	Tests30d      int        `json:"tests_30d"`     // tests over the last 30 days
	Blocked30d    float64    `json:"blocked_30d"`   // share of tests blocked over the last 30 days, 0..1
	Throttled30d  float64    `json:"throttled_30d"` // share of tests throttled over the last 30 days, 0..1
	LastMeasureID string     `json:"last_measure_id"`
}

// DayCount is one day of a timeline.
type DayCount struct {
	Day     time.Time `json:"day"` // UTC midnight
	Tests   int       `json:"tests"`
	Blocked int       `json:"blocked"`
	Targets int       `json:"targets"` // distinct targets blocked that day
}

// Event is a confirmed status change of a target in a network.
type Event struct {
	ID         int64     `json:"id"`
	Target     string    `json:"target"`
	Country    string    `json:"country"`
	ASN        int       `json:"asn"`
	Kind       string    `json:"kind"`              // "blocked", "unblocked", "methods_changed", "keyword_blocked", "keyword_unblocked"
	Keyword    string    `json:"keyword,omitempty"` // the word of a keyword_* event
	OldStatus  string    `json:"old_status"`
	NewStatus  string    `json:"new_status"`
	OldMethods []string  `json:"old_methods"`
	NewMethods []string  `json:"new_methods"`
	At         time.Time `json:"at"`
	MeasureID  string    `json:"measure_id"`
}

// Overview holds the dashboard's front-page figures.
type Overview struct {
	Measurements   int            `json:"measurements"`
	Targets        int            `json:"targets"`
	BlockedTargets int            `json:"blocked_targets"`
	ByMethod       map[string]int `json:"by_method"` // targets currently blocked by each method
	Timeline       []DayCount     `json:"timeline"`  // last 30 days
}

// Token is a probe upload token, without its secret.
type Token struct {
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	LastUsed  *time.Time `json:"last_used,omitempty"`
}

// Queue item states (QueueItem.State).
const (
	QueueWaiting = "queued"  // never handed out
	QueueLeased  = "leased"  // handed out, lease running
	QueueExpired = "expired" // handed out, lease over without a measurement: handed out again
	QueueDone    = "done"    // a measurement of it was stored
)

// QueueItem is a target queued for measurement ("test now").
type QueueItem struct {
	ID          int64      `json:"id"`
	Target      string     `json:"target"`
	RequestedBy string     `json:"requested_by"`
	RequestedAt time.Time  `json:"requested_at"`
	State       string     `json:"state"`              // QueueWaiting, QueueLeased, QueueExpired or QueueDone
	TakenBy     string     `json:"taken_by"`           // the agent of the latest lease
	TakenAt     *time.Time `json:"taken_at,omitempty"` // start of the latest lease
	LeaseUntil  *time.Time `json:"lease_until,omitempty"`
	Takes       int        `json:"takes"` // how many times it was handed out
	DoneAt      *time.Time `json:"done_at,omitempty"`
	MeasureID   string     `json:"measure_id,omitempty"` // the measurement that completed it
}
