package ratelimit

import (
	"testing"

	"golang.org/x/time/rate"
)

func TestKeyed(t *testing.T) {
	k := &Keyed{Rate: rate.Limit(0.001), Burst: 2, MaxKeys: 3}
	for i, want := range []bool{true, true, false} {
		if got := k.Allow("a"); got != want {
			t.Errorf("a, event %d: got %v, want %v", i, got, want)
		}
	}
	if !k.Allow("b") {
		t.Error("b: a key of its own must have a full bucket")
	}
	k.Allow("c")
	if k.Allow("a") {
		t.Error("a: still limited while the set is not full")
	}
	k.Allow("d") // the set is full: everything is forgotten
	if len(k.m) != 1 {
		t.Errorf("after overflow %d keys remembered, want 1", len(k.m))
	}
	if !k.Allow("a") {
		t.Error("a: forgotten keys start again with a full bucket")
	}
}

func TestReadySpendsNothing(t *testing.T) {
	k := &Keyed{Rate: rate.Limit(0.001), Burst: 1}
	for range 3 {
		if !k.Ready("a") {
			t.Fatal("Ready spent the only event")
		}
	}
	k.Allow("a")
	if k.Ready("a") {
		t.Error("Ready after the burst was spent")
	}
}
