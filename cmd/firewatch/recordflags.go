package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/runner"
	"github.com/firewatch/firewatch/internal/target"
	"github.com/spf13/cobra"
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

// followUp is the loop of a command that follows up a measurement (trace,
// keywords isolate): it measures each target of arg with measure, lets each add its
// steps to the record, writes the record where rf says, then calls the
// report that each returned. An error of each that wraps nothing (there is
// nothing to follow up on that target) skips it; the command fails only when
// every target was skipped.
func followUp(cmd *cobra.Command, arg string, measure runner.MeasureFunc, rf *recordFlags, nothing error,
	each func(m *model.Measurement) (report func() error, err error)) error {
	ts, err := target.Parse(arg)
	if err != nil {
		return fmt.Errorf("target %q: %w", arg, err)
	}
	sink, err := rf.open(cmd.Context(), cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer sink.Close()
	var skipped []string
	for _, t := range ts {
		m := measure(cmd.Context(), t)
		report, err := each(m)
		if errors.Is(err, nothing) {
			skipped = append(skipped, err.Error())
			continue
		}
		if err != nil {
			return err
		}
		if err := sink.Write(m); err != nil {
			return err
		}
		if err := report(); err != nil {
			return err
		}
	}
	if len(skipped) == len(ts) {
		return errors.New(strings.Join(skipped, "; "))
	}
	return nil
}
