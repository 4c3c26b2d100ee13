package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/firewatch/firewatch/internal/upload"
	"github.com/spf13/pflag"
)

// uploadFlags are the flags of commands that upload records to a collector
// through a local spool.
type uploadFlags struct {
	url, token, spool string
	batch             int
}

func (f *uploadFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.url, "upload", "", "collector URL to upload records to (through the spool)")
	fs.StringVar(&f.token, "token", os.Getenv("FIREWATCH_TOKEN"), "the probe's upload token (default $FIREWATCH_TOKEN)")
	fs.StringVar(&f.spool, "spool", upload.DefaultSpoolDir(), "spool directory: records wait here until the collector acknowledges them")
	fs.IntVar(&f.batch, "batch", 100, "records per upload")
}

// sink opens the spool and returns a sink that spools each record and
// uploads in the background; its Close drains the spool.
func (f *uploadFlags) sink(ctx context.Context, log io.Writer) (*upload.Sink, error) {
	if f.token == "" {
		return nil, errors.New("--upload needs --token (or FIREWATCH_TOKEN)")
	}
	sp, err := upload.OpenSpool(f.spool)
	if err != nil {
		return nil, fmt.Errorf("--spool %s: %w", f.spool, err)
	}
	if sp.Recovered > 0 {
		fmt.Fprintf(log, "upload: spool: %d records recovered from an interrupted write\n", sp.Recovered)
	}
	u := &upload.Uploader{URL: f.url, Token: f.token, Spool: sp, Batch: f.batch,
		Logf: func(format string, args ...any) { fmt.Fprintf(log, "upload: "+format+"\n", args...) }}
	return upload.NewSink(ctx, u), nil
}
