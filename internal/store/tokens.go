package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// CreateToken implements Store. The secret is "fw_" and 32 random bytes in
// base64url; only its SHA-256 is stored.
func (s *sqlStore) CreateToken(ctx context.Context, name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 128 {
		return "", errors.New("store: token name must be 1 to 128 characters")
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	secret := "fw_" + base64.RawURLEncoding.EncodeToString(buf)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO tokens (name, hash, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`),
		name, hashSecret(secret), nanos(s.now()))
	if err != nil {
		return "", fmt.Errorf("store: create token %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return "", fmt.Errorf("store: token %q: %w", name, ErrExists)
	}
	return secret, nil
}

// ListTokens implements Store.
func (s *sqlStore) ListTokens(ctx context.Context) ([]Token, error) {
	rs, err := s.db.QueryContext(ctx, `SELECT name, created_at, revoked_at, last_used FROM tokens ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: tokens: %w", err)
	}
	defer rs.Close()
	out := []Token{}
	for rs.Next() {
		var t Token
		var created int64
		var revoked, used sql.NullInt64
		if err := rs.Scan(&t.Name, &created, &revoked, &used); err != nil {
			return nil, fmt.Errorf("store: tokens: %w", err)
		}
		t.CreatedAt, t.RevokedAt, t.LastUsed = fromNanos(created), fromNull(revoked), fromNull(used)
		out = append(out, t)
	}
	return out, rs.Err()
}

// RevokeToken implements Store. Revoking an already revoked token is not an
// error; an unknown name is ErrNotFound.
func (s *sqlStore) RevokeToken(ctx context.Context, name string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE name = ?`), nanos(s.now()), name)
	if err != nil {
		return fmt.Errorf("store: revoke token %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: token %q: %w", name, ErrNotFound)
	}
	return nil
}

// Authenticate implements Store. It records the time of use at most once a
// minute per token.
func (s *sqlStore) Authenticate(ctx context.Context, secret string) (string, error) {
	if secret == "" {
		return "", ErrUnauthorized
	}
	var name string
	var revoked, used sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT name, revoked_at, last_used FROM tokens WHERE hash = ?`), hashSecret(secret)).Scan(&name, &revoked, &used)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && revoked.Valid) {
		return "", ErrUnauthorized
	}
	if err != nil {
		return "", fmt.Errorf("store: authenticate: %w", err)
	}
	now := nanos(s.now())
	if !used.Valid || now-used.Int64 > int64(time.Minute) {
		s.wmu.Lock()
		_, err = s.db.ExecContext(ctx, s.q(`UPDATE tokens SET last_used = ? WHERE name = ?`), now, name)
		s.wmu.Unlock()
		if err != nil {
			return "", fmt.Errorf("store: authenticate: %w", err)
		}
	}
	return name, nil
}
