package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"
)

// dnsSchema is the migration of the DNS filter's history: the state of each
// domain in each network (censored or not, since when, by which rule), the
// forged-address pool per network, the censored domains of each day and the
// events when a domain becomes censored or uncensored.
const dnsSchema = `CREATE TABLE dns_state (
		domain TEXT NOT NULL,
		country TEXT NOT NULL,
		asn BIGINT NOT NULL,
		censored BIGINT NOT NULL,
		since BIGINT NOT NULL,
		last_change BIGINT,
		last_seen BIGINT NOT NULL,
		tests BIGINT NOT NULL,
		method TEXT NOT NULL DEFAULT '',
		rule TEXT NOT NULL DEFAULT '',
		rule_base TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (domain, country, asn)
	);
	CREATE INDEX dns_state_censored ON dns_state (censored, domain);
	CREATE TABLE dns_forged (
		country TEXT NOT NULL,
		asn BIGINT NOT NULL,
		address TEXT NOT NULL,
		count BIGINT NOT NULL,
		first_seen BIGINT NOT NULL,
		last_seen BIGINT NOT NULL,
		PRIMARY KEY (country, asn, address)
	);
	CREATE TABLE dns_day (
		country TEXT NOT NULL,
		asn BIGINT NOT NULL,
		day BIGINT NOT NULL,
		domain TEXT NOT NULL,
		PRIMARY KEY (country, asn, day, domain)
	);
	CREATE INDEX dns_day_day ON dns_day (day);
	CREATE TABLE dns_events (
		id {{serial}},
		domain TEXT NOT NULL,
		country TEXT NOT NULL,
		asn BIGINT NOT NULL,
		kind TEXT NOT NULL,
		rule TEXT NOT NULL DEFAULT '',
		rule_base TEXT NOT NULL DEFAULT '',
		at BIGINT NOT NULL
	);
	CREATE INDEX dns_events_at ON dns_events (at)`

// DNS event kinds (DNSEvent.Kind).
const (
	DNSCensored   = "censored"
	DNSUncensored = "uncensored"
)

// DNSObservation is what one scan found of one domain in one network (all
// its query types, and resolvers, folded into one).
type DNSObservation struct {
	Domain   string
	Country  string
	ASN      int
	Method   string // "via" or "resolver"
	Censored bool
	Rule     string // "exact", "suffix", "substring" or ""
	RuleBase string
	Forged   []string // forged addresses in the answers
	At       time.Time
}

// DNSState is the history of one domain in one network.
type DNSState struct {
	Domain     string     `json:"domain"`
	Country    string     `json:"country"`
	ASN        int        `json:"asn"`
	Censored   bool       `json:"censored"`
	Since      time.Time  `json:"since"` // censored (or not) since
	LastChange *time.Time `json:"last_change,omitempty"`
	LastSeen   time.Time  `json:"last_seen"`
	Tests      int        `json:"tests"`
	Method     string     `json:"method"`
	Rule       string     `json:"rule,omitempty"`
	RuleBase   string     `json:"rule_base,omitempty"`
}

// DNSFilter narrows DNS lists. Zero fields match everything.
type DNSFilter struct {
	Country  string
	ASN      int
	Query    string // substring of the domain
	Censored *bool
}

// DNSRule is one inferred rule and the censored domains it explains.
type DNSRule struct {
	Rule     string `json:"rule"`
	Base     string `json:"base"`
	Country  string `json:"country"`
	ASN      int    `json:"asn"`
	Domains  int    `json:"domains"`
	Examples string `json:"example"`
}

// DNSForged is one address of a network's forged-address pool.
type DNSForged struct {
	Address   string    `json:"address"`
	Country   string    `json:"country"`
	ASN       int       `json:"asn"`
	Count     int64     `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// DNSDay is the number of censored domains seen on one day.
type DNSDay struct {
	Day      time.Time `json:"day"`
	Censored int       `json:"censored"`
}

// DNSEvent is a domain becoming censored or uncensored in a network.
type DNSEvent struct {
	ID       int64     `json:"id"`
	Domain   string    `json:"domain"`
	Country  string    `json:"country"`
	ASN      int       `json:"asn"`
	Kind     string    `json:"kind"`
	Rule     string    `json:"rule,omitempty"`
	RuleBase string    `json:"rule_base,omitempty"`
	At       time.Time `json:"at"`
}

// DNSHistory keeps the results of DNS scans (`firewatch scan dns`) as
// history, per domain and network.
type DNSHistory interface {
	// InsertDNS folds observations into the history, oldest first; it
	// returns the events it created.
	InsertDNS(ctx context.Context, obs []DNSObservation) ([]DNSEvent, error)
	// DNSStates lists domains' states, censored first, then by domain.
	DNSStates(ctx context.Context, f DNSFilter, p Page) ([]DNSState, error)
	// DNSRules lists the inferred rules of censored domains, widest first.
	DNSRules(ctx context.Context, f DNSFilter, p Page) ([]DNSRule, error)
	// DNSForged lists the forged-address pool, most seen first.
	DNSForged(ctx context.Context, f DNSFilter, p Page) ([]DNSForged, error)
	// DNSTimeline counts censored domains per day over the last days.
	DNSTimeline(ctx context.Context, f DNSFilter, days int) ([]DNSDay, error)
	// DNSEvents lists events, newest first.
	DNSEvents(ctx context.Context, f DNSFilter, p Page) ([]DNSEvent, error)
}

func (s *sqlStore) InsertDNS(ctx context.Context, obs []DNSObservation) ([]DNSEvent, error) {
	obs = append([]DNSObservation(nil), obs...)
	sort.SliceStable(obs, func(i, j int) bool { return obs[i].At.Before(obs[j].At) })
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: dns: %w", err)
	}
	defer tx.Rollback()
	var events []DNSEvent
	for _, o := range obs {
		o.Domain = strings.ToLower(noNUL(o.Domain))
		o.Country = noNUL(o.Country)
		if o.Domain == "" {
			continue
		}
		at := nanos(o.At)
		var censored, since, lastSeen, tests int64
		var rule, base string
		err := tx.QueryRowContext(ctx, s.q(`SELECT censored, since, last_seen, tests, rule, rule_base FROM dns_state WHERE domain = ? AND country = ? AND asn = ?`),
			o.Domain, o.Country, o.ASN).Scan(&censored, &since, &lastSeen, &tests, &rule, &base)
		now := boolInt(o.Censored)
		kind := ""
		switch {
		case err == sql.ErrNoRows:
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO dns_state (domain, country, asn, censored, since, last_seen, tests, method, rule, rule_base)
				VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`), o.Domain, o.Country, o.ASN, now, at, at, o.Method, o.Rule, o.RuleBase)
			if o.Censored {
				kind = DNSCensored
			}
		case err != nil:
		case at < lastSeen: // an older scan arriving late: counted, never a change
			_, err = tx.ExecContext(ctx, s.q(`UPDATE dns_state SET tests = tests + 1 WHERE domain = ? AND country = ? AND asn = ?`), o.Domain, o.Country, o.ASN)
		case censored != now:
			_, err = tx.ExecContext(ctx, s.q(`UPDATE dns_state SET censored = ?, since = ?, last_change = ?, last_seen = ?, tests = tests + 1, method = ?, rule = ?, rule_base = ?
				WHERE domain = ? AND country = ? AND asn = ?`), now, at, at, at, o.Method, o.Rule, o.RuleBase, o.Domain, o.Country, o.ASN)
			kind = DNSUncensored
			if o.Censored {
				kind = DNSCensored
			}
		default:
			if !o.Censored || o.Rule == "" { // keep the rule learnt earlier
				o.Rule, o.RuleBase = rule, base
			}
			_, err = tx.ExecContext(ctx, s.q(`UPDATE dns_state SET last_seen = ?, tests = tests + 1, method = ?, rule = ?, rule_base = ?
				WHERE domain = ? AND country = ? AND asn = ?`), at, o.Method, o.Rule, o.RuleBase, o.Domain, o.Country, o.ASN)
		}
		if err != nil {
			return nil, fmt.Errorf("store: dns state: %w", err)
		}
		if o.Censored {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO dns_day (country, asn, day, domain) VALUES (?, ?, ?, ?) ON CONFLICT (country, asn, day, domain) DO NOTHING`),
				o.Country, o.ASN, dayOf(o.At), o.Domain); err != nil {
				return nil, fmt.Errorf("store: dns day: %w", err)
			}
		}
		for _, a := range o.Forged {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO dns_forged (country, asn, address, count, first_seen, last_seen) VALUES (?, ?, ?, 1, ?, ?)
				ON CONFLICT (country, asn, address) DO UPDATE SET count = dns_forged.count + 1,
				first_seen = CASE WHEN excluded.first_seen < dns_forged.first_seen THEN excluded.first_seen ELSE dns_forged.first_seen END,
				last_seen = CASE WHEN excluded.last_seen > dns_forged.last_seen THEN excluded.last_seen ELSE dns_forged.last_seen END`),
				o.Country, o.ASN, noNUL(a), at, at); err != nil {
				return nil, fmt.Errorf("store: dns forged: %w", err)
			}
		}
		if kind != "" {
			e := DNSEvent{Domain: o.Domain, Country: o.Country, ASN: o.ASN, Kind: kind, Rule: o.Rule, RuleBase: o.RuleBase, At: fromNanos(at)}
			if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO dns_events (domain, country, asn, kind, rule, rule_base, at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
				e.Domain, e.Country, e.ASN, e.Kind, e.Rule, e.RuleBase, at).Scan(&e.ID); err != nil {
				return nil, fmt.Errorf("store: dns event: %w", err)
			}
			events = append(events, e)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: dns: %w", err)
	}
	return events, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// dnsWhere builds the WHERE clause of a DNS filter.
func dnsWhere(f DNSFilter, withCensored bool) (string, []any) {
	var conds []string
	var args []any
	if f.Country != "" {
		conds, args = append(conds, "country = ?"), append(args, f.Country)
	}
	if f.ASN != 0 {
		conds, args = append(conds, "asn = ?"), append(args, f.ASN)
	}
	if f.Query != "" {
		conds, args = append(conds, `domain LIKE ? ESCAPE '\'`), append(args, "%"+escapeLike(strings.ToLower(f.Query))+"%")
	}
	if withCensored && f.Censored != nil {
		conds, args = append(conds, "censored = ?"), append(args, boolInt(*f.Censored))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func (s *sqlStore) DNSStates(ctx context.Context, f DNSFilter, p Page) ([]DNSState, error) {
	w, args := dnsWhere(f, true)
	l, o := limits(p)
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT domain, country, asn, censored, since, last_change, last_seen, tests, method, rule, rule_base
		FROM dns_state`+w+` ORDER BY censored DESC, domain, country, asn LIMIT ? OFFSET ?`), append(args, l, o)...)
	if err != nil {
		return nil, fmt.Errorf("store: dns states: %w", err)
	}
	defer rs.Close()
	out := []DNSState{}
	for rs.Next() {
		var d DNSState
		var c, since, seen int64
		var change sql.NullInt64
		if err := rs.Scan(&d.Domain, &d.Country, &d.ASN, &c, &since, &change, &seen, &d.Tests, &d.Method, &d.Rule, &d.RuleBase); err != nil {
			return nil, fmt.Errorf("store: dns states: %w", err)
		}
		d.Censored, d.Since, d.LastChange, d.LastSeen = c != 0, fromNanos(since), fromNull(change), fromNanos(seen)
		out = append(out, d)
	}
	return out, rs.Err()
}

func (s *sqlStore) DNSRules(ctx context.Context, f DNSFilter, p Page) ([]DNSRule, error) {
	yes := true
	f.Censored = &yes
	w, args := dnsWhere(f, true)
	l, o := limits(p)
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT rule, rule_base, country, asn, COUNT(*), MIN(domain) FROM dns_state`+w+` AND rule <> ''
		GROUP BY rule, rule_base, country, asn ORDER BY COUNT(*) DESC, rule_base LIMIT ? OFFSET ?`), append(args, l, o)...)
	if err != nil {
		return nil, fmt.Errorf("store: dns rules: %w", err)
	}
	defer rs.Close()
	out := []DNSRule{}
	for rs.Next() {
		var r DNSRule
		if err := rs.Scan(&r.Rule, &r.Base, &r.Country, &r.ASN, &r.Domains, &r.Examples); err != nil {
			return nil, fmt.Errorf("store: dns rules: %w", err)
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

func (s *sqlStore) DNSForged(ctx context.Context, f DNSFilter, p Page) ([]DNSForged, error) {
	f.Query = ""
	w, args := dnsWhere(f, false)
	l, o := limits(p)
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT address, country, asn, count, first_seen, last_seen FROM dns_forged`+w+`
		ORDER BY count DESC, address LIMIT ? OFFSET ?`), append(args, l, o)...)
	if err != nil {
		return nil, fmt.Errorf("store: dns forged: %w", err)
	}
	defer rs.Close()
	out := []DNSForged{}
	for rs.Next() {
		var a DNSForged
		var first, last int64
		if err := rs.Scan(&a.Address, &a.Country, &a.ASN, &a.Count, &first, &last); err != nil {
			return nil, fmt.Errorf("store: dns forged: %w", err)
		}
		a.FirstSeen, a.LastSeen = fromNanos(first), fromNanos(last)
		out = append(out, a)
	}
	return out, rs.Err()
}

func (s *sqlStore) DNSTimeline(ctx context.Context, f DNSFilter, days int) ([]DNSDay, error) {
	if days <= 0 {
		days = 30
	}
	f.Query, f.Censored = "", nil
	w, args := dnsWhere(f, false)
	from := dayOf(s.now()) - int64(days-1)*dayNanos
	if w == "" {
		w = " WHERE day >= ?"
	} else {
		w += " AND day >= ?"
	}
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT day, COUNT(DISTINCT domain) FROM dns_day`+w+` GROUP BY day`), append(args, from)...)
	if err != nil {
		return nil, fmt.Errorf("store: dns timeline: %w", err)
	}
	defer rs.Close()
	counts := map[int64]int{}
	for rs.Next() {
		var d int64
		var n int
		if err := rs.Scan(&d, &n); err != nil {
			return nil, fmt.Errorf("store: dns timeline: %w", err)
		}
		counts[d] = n
	}
	out := make([]DNSDay, 0, days)
	for i := 0; i < days; i++ {
		d := from + int64(i)*dayNanos
		out = append(out, DNSDay{Day: fromNanos(d), Censored: counts[d]})
	}
	return out, rs.Err()
}

func (s *sqlStore) DNSEvents(ctx context.Context, f DNSFilter, p Page) ([]DNSEvent, error) {
	f.Censored = nil
	w, args := dnsWhere(f, false)
	l, o := limits(p)
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT id, domain, country, asn, kind, rule, rule_base, at FROM dns_events`+w+`
		ORDER BY at DESC, id DESC LIMIT ? OFFSET ?`), append(args, l, o)...)
	if err != nil {
		return nil, fmt.Errorf("store: dns events: %w", err)
	}
	defer rs.Close()
	out := []DNSEvent{}
	for rs.Next() {
		var e DNSEvent
		var at int64
		if err := rs.Scan(&e.ID, &e.Domain, &e.Country, &e.ASN, &e.Kind, &e.Rule, &e.RuleBase, &at); err != nil {
			return nil, fmt.Errorf("store: dns events: %w", err)
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	return out, rs.Err()
}
