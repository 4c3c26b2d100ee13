package lab

import (
	"github.com/firewatch/firewatch/internal/lab/nsnet"
)

// InNetns runs fn on an OS thread switched into the named network namespace.
// Sockets created by fn belong to that namespace for their whole life, so fn
// may return connections that other goroutines keep using.
func InNetns(name string, fn func() error) error { return nsnet.Do(name, fn) }

// ListNamespaces returns the lab's namespaces that currently exist
// (including leftovers of a crashed lab).
func ListNamespaces() ([]string, error) { return nsnet.List(Prefix) }
