package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/firewatch/firewatch/internal/model"
)

// RecordError names the record of a batch that could not be decoded or
// validated: its index (0-based, in the order of the body), its id when
// known, and the field.
type RecordError struct {
	Index int
	ID    string
	Field string
	Err   error
}

// Error names the record by its id when known (its index in the batch
// follows), then the field: "record 3f2a…: steps: 20000, at most 512 (record
// 4 of the batch)".
func (e *RecordError) Error() string {
	msg := e.Err.Error()
	var fe *FieldError
	if errors.As(e.Err, &fe) {
		msg = fe.Msg
	}
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.ID == "" {
		return fmt.Sprintf("record %d: %s", e.Index, msg)
	}
	return fmt.Sprintf("record %s: %s (record %d of the batch)", clip(e.ID), msg, e.Index)
}

func (e *RecordError) Unwrap() error { return e.Err }

// ErrTooManyRecords is returned by Parse when a body holds more records than allowed.
var ErrTooManyRecords = errors.New("too many records in one request")

// Parse decodes a request body holding either a JSON array of measurements
// or JSON Lines (one measurement per line; blank lines are skipped). It
// stops at maxRecords (0: no limit) with ErrTooManyRecords. It does not
// validate the records beyond decoding them; a decoding error is a
// *RecordError.
func Parse(body []byte, maxRecords int) ([]*model.Measurement, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, errors.New("empty body: want a JSON array or JSON Lines of measurements")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	array := trimmed[0] == '['
	if array {
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
	}
	var out []*model.Measurement
	for i := 0; ; i++ {
		if array && !dec.More() {
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("after record %d: %w", i-1, err)
			}
			if _, err := dec.Token(); err != io.EOF {
				return nil, fmt.Errorf("after the array: unexpected data")
			}
			return out, nil
		}
		if maxRecords > 0 && len(out) >= maxRecords {
			if !array {
				if _, err := dec.Token(); err == io.EOF {
					return out, nil
				}
			}
			return nil, fmt.Errorf("%w (limit %d)", ErrTooManyRecords, maxRecords)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if err == io.EOF && !array {
				return out, nil
			}
			return nil, &RecordError{Index: i, Err: fmt.Errorf("invalid JSON: %w", err)}
		}
		m := new(model.Measurement)
		if err := json.Unmarshal(raw, m); err != nil {
			re := &RecordError{Index: i, ID: peekID(raw), Err: fmt.Errorf("invalid JSON: %w", err)}
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				re.Field = te.Field
				re.Err = fmt.Errorf("want a JSON %s, got %s", te.Type, te.Value)
			}
			return nil, re
		}
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			return nil, &RecordError{Index: i, Err: errors.New("null record")}
		}
		if len(raw) > model.MaxRecordBytes {
			// Name the field that makes it too large, if one is out of bounds.
			re := &RecordError{Index: i, ID: m.ID, Err: fmt.Errorf("%d bytes of JSON, at most %d", len(raw), model.MaxRecordBytes)}
			var fe *FieldError
			if err := Validate(m); errors.As(err, &fe) {
				re.Field, re.Err = fe.Field, fe
			}
			return nil, re
		}
		out = append(out, m)
	}
}

// peekID returns the "id" of a record that failed to decode as a whole.
func peekID(raw []byte) string {
	var v struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(raw, &v) == nil {
		if s, ok := v.ID.(string); ok {
			return s
		}
	}
	return ""
}
