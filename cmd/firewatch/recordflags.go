package main

import (
	"context"
	"errors"
	"io"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/runner"
	"github.com/spf13/pflag"
)

// recordFlags are the flags of commands (trace, keywords) that write the
// record they build to a JSON Lines file and/or upload it.
type recordFlags struct {
	out string
	up  uploadFlags
}

func (f *recordFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.out, "out", "", "append the record(s) to this JSON Lines file")
	f.up.register(fs)
}

// recordSink writes records where the flags say; Close flushes.
type recordSink struct{ sinks []runner.Sink }

func (f *recordFlags) open(ctx context.Context, log io.Writer) (*recordSink, error) {
	rs := &recordSink{}
	if f.out != "" {
		s, err := runner.CreateJSONL(f.out, true)
		if err != nil {
			return nil, err
		}
		rs.sinks = append(rs.sinks, s)
	}
	if f.up.url != "" {
		s, err := f.up.sink(ctx, log)
		if err != nil {
			rs.Close()
			return nil, err
		}
		rs.sinks = append(rs.sinks, s)
	}
	return rs, nil
}

func (rs *recordSink) Write(m *model.Measurement) error {
	var errs []error
	for _, s := range rs.sinks {
		errs = append(errs, s.Write(m))
	}
	return errors.Join(errs...)
}

func (rs *recordSink) Close() error {
	var errs []error
	for _, s := range rs.sinks {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
