package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// dnsUploadBatch is the number of records per POST /api/v1/dns.
const dnsUploadBatch = 5000

// dnsUploader uploads scan records to a collector in gzip'd JSON Lines
// batches from a background goroutine (one batch in flight, one waiting),
// retrying a failed batch with backoff; close waits for the last one.
type dnsUploader struct {
	url, token string
	client     *http.Client
	buf        bytes.Buffer
	n          int
	batches    chan []byte
	done       chan error
	uploaded   int
	log        io.Writer
}

func newDNSUploader(ctx context.Context, url, token string, log io.Writer) (*dnsUploader, error) {
	if token == "" {
		return nil, errors.New("--upload needs --token (or FIREWATCH_TOKEN)")
	}
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("--upload %q: want an http:// or https:// URL", url)
	}
	u := &dnsUploader{url: strings.TrimSuffix(url, "/") + "/api/v1/dns", token: token, client: &http.Client{Timeout: 2 * time.Minute},
		batches: make(chan []byte, 1), done: make(chan error, 1), log: log}
	go func() {
		var err error
		for b := range u.batches {
			if err == nil {
				err = u.post(context.WithoutCancel(ctx), b)
			}
		}
		u.done <- err
	}()
	return u, nil
}

func (u *dnsUploader) write(line []byte) error {
	u.buf.Write(line)
	u.buf.WriteByte('\n')
	u.n++
	if u.n == dnsUploadBatch {
		return u.flush()
	}
	return nil
}

func (u *dnsUploader) flush() error {
	if u.n == 0 {
		return nil
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(u.buf.Bytes())
	if err := zw.Close(); err != nil {
		return err
	}
	u.buf.Reset()
	u.uploaded += u.n
	u.n = 0
	u.batches <- z.Bytes()
	return nil
}

func (u *dnsUploader) close() error {
	err := u.flush()
	close(u.batches)
	if uerr := <-u.done; uerr != nil {
		return fmt.Errorf("upload to %s: %w (the records are in --out, if given)", u.url, uerr)
	}
	if err == nil {
		fmt.Fprintf(u.log, "firewatch: %d record(s) uploaded to %s\n", u.uploaded, u.url)
	}
	return err
}

// post sends one batch, retrying network errors, 429 and 5xx up to 5
// times with backoff; other answers are final.
func (u *dnsUploader) post(ctx context.Context, body []byte) error {
	backoff := time.Second
	var last error
	for try := 0; try < 5; try++ {
		if try > 0 {
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return ctx.Err()
			}
			backoff *= 2
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+u.token)
		req.Header.Set("Content-Type", "application/x-ndjson")
		req.Header.Set("Content-Encoding", "gzip")
		resp, err := u.client.Do(req)
		if err != nil {
			last = err
			continue
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			return nil
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			last = fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
		default:
			return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
		}
	}
	return last
}
