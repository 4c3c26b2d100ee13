// Package ratelimit bounds request rates per key (a token, a client
// address) with one token bucket per key, keeping a bounded number of keys.
package ratelimit

import (
	"sync"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys is how many keys a Keyed remembers when MaxKeys is 0.
const DefaultMaxKeys = 10000

// Keyed is a set of token buckets, one per key, created on first use. When
// MaxKeys keys are known, all are forgotten at once: idle clients cost no
// memory and a busy one merely starts again with a full bucket. The zero
// value is not usable: set Rate and Burst. Safe for concurrent use.
type Keyed struct {
	Rate    rate.Limit
	Burst   int
	MaxKeys int // 0 means DefaultMaxKeys

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// Allow reports whether one more event for key may happen now, and if so
// spends it.
func (k *Keyed) Allow(key string) bool { return k.limiter(key).Allow() }

// Ready reports whether one more event for key may happen now, without
// spending it (to count only some outcomes, such as failures).
func (k *Keyed) Ready(key string) bool { return k.limiter(key).Tokens() >= 1 }

// limiter returns key's bucket, creating it.
func (k *Keyed) limiter(key string) *rate.Limiter {
	k.mu.Lock()
	max := k.MaxKeys
	if max <= 0 {
		max = DefaultMaxKeys
	}
	if k.m == nil || len(k.m) >= max {
		if _, ok := k.m[key]; !ok {
			k.m = map[string]*rate.Limiter{}
		}
	}
	l, ok := k.m[key]
	if !ok {
		l = rate.NewLimiter(k.Rate, k.Burst)
		k.m[key] = l
	}
	k.mu.Unlock()
	return l
}
