package probe

import (
	"context"
	"net"
	"net/netip"
	"sync"
)

// addrSlots bounds the connections open at once to one server address,
// across every measurement of a Probe, so that a list does not hammer one
// host. Waiters are served in arrival order. Entries exist only while a
// connection is open or awaited, so memory follows the work in flight, not
// the length of the list.
//
// A measurement takes the slots of several addresses in address order and
// holds none while it waits for another (connectAll), so two measurements can
// never wait for each other.
type addrSlots struct {
	max  int // <= 0: no limit
	mu   sync.Mutex
	held map[netip.Addr]*addrSlot
}

type addrSlot struct {
	n    int             // slots taken
	wait []chan struct{} // waiters, first come first served
}

func newAddrSlots(max int) *addrSlots {
	return &addrSlots{max: max, held: map[netip.Addr]*addrSlot{}}
}

// acquire takes a slot for a, waiting while max connections to a are open.
// It returns the function that gives the slot back (call it exactly once),
// or ctx's error.
func (s *addrSlots) acquire(ctx context.Context, a netip.Addr) (func(), error) {
	if s.max <= 0 {
		return func() {}, nil
	}
	a = a.Unmap()
	s.mu.Lock()
	e := s.held[a]
	if e == nil {
		e = &addrSlot{}
		s.held[a] = e
	}
	if e.n < s.max && len(e.wait) == 0 {
		e.n++
		s.mu.Unlock()
		return s.releaser(a), nil
	}
	ch := make(chan struct{})
	e.wait = append(e.wait, ch)
	s.mu.Unlock()
	select {
	case <-ch:
		return s.releaser(a), nil
	case <-ctx.Done():
		s.mu.Lock()
		for i, w := range e.wait {
			if w == ch {
				e.wait = append(e.wait[:i], e.wait[i+1:]...)
				s.mu.Unlock()
				return nil, ctx.Err()
			}
		}
		s.mu.Unlock()
		// The slot was handed over as ctx ended: give it on.
		s.releaser(a)()
		return nil, ctx.Err()
	}
}

// releaser returns the function that hands a's slot to the next waiter or
// frees it.
func (s *addrSlots) releaser(a netip.Addr) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			e := s.held[a]
			if len(e.wait) > 0 {
				close(e.wait[0]) // the slot passes on: n stays
				e.wait = e.wait[1:]
				return
			}
			e.n--
			if e.n == 0 {
				delete(s.held, a)
			}
		})
	}
}

// slotConn gives its address's slot back when closed.
type slotConn struct {
	net.Conn
	release func()
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}
