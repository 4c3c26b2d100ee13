package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func runTokenCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestTokenCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "fw.db")
	secret, err := runTokenCmd(t, "token", "create", "--db", db, "--name", "probe-1")
	if err != nil || !strings.HasPrefix(secret, "fw_") || strings.Count(secret, "\n") != 1 {
		t.Fatalf("create: %q, %v", secret, err)
	}
	if _, err := runTokenCmd(t, "token", "create", "--db", db, "--name", "probe-1"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := runTokenCmd(t, "token", "revoke", "--db", db, "--name", "nobody"); err == nil || !strings.Contains(err.Error(), `no token named "nobody"`) {
		t.Errorf("unknown revoke: %v", err)
	}
	if _, err := runTokenCmd(t, "token", "revoke", "--db", db, "--name", "probe-1"); err != nil {
		t.Errorf("revoke: %v", err)
	}
	out, err := runTokenCmd(t, "token", "list", "--db", "sqlite://"+db)
	if err != nil || !strings.Contains(out, "probe-1") || strings.Contains(out, strings.TrimSpace(secret)) || strings.Count(out, "\n") != 2 {
		t.Errorf("list: %q, %v", out, err)
	}
}
