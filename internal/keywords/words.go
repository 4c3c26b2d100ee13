package keywords

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"unicode/utf8"
)

// maxWordBytes bounds one word of a list.
const maxWordBytes = 253

// BadLine is a line of a word list that was skipped.
type BadLine struct {
	Line   int
	Reason string
}

// ReadWords reads a word list: one word per line, blank lines and lines
// starting with # ignored, surrounding space trimmed, duplicates dropped.
// Lines that are not valid UTF-8 (or too long) are skipped and returned
// with their numbers.
func ReadWords(r io.Reader) ([]string, []BadLine, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var words []string
	var bad []BadLine
	seen := map[string]bool{}
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if !utf8.Valid(line) {
			bad = append(bad, BadLine{n, "not valid UTF-8"})
			continue
		}
		w := strings.TrimSpace(string(line))
		if w == "" || strings.HasPrefix(w, "#") {
			continue
		}
		if len(w) > maxWordBytes {
			bad = append(bad, BadLine{n, fmt.Sprintf("longer than %d bytes", maxWordBytes)})
			continue
		}
		if !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("word list: %w", err)
	}
	return words, bad, nil
}

// Template is where each word of a list goes.
type Template struct {
	Field string // FieldPath (a URL template), FieldSNI or FieldDNS
	Text  string // contains exactly one {}
}

// ParseTemplate checks a template: it must hold {} once.
func ParseTemplate(field, text string) (Template, error) {
	switch n := strings.Count(text, "{}"); {
	case n == 0:
		return Template{}, fmt.Errorf("template %q has no {} (where each word goes)", text)
	case n > 1:
		return Template{}, fmt.Errorf("template %q has %d {}; give one", text, n)
	}
	if field == FieldPath {
		u, err := url.Parse(strings.Replace(text, "{}", "x", 1))
		if err != nil || u.Scheme != "http" || u.Host == "" {
			return Template{}, fmt.Errorf("template %q: want an http:// URL with {} in its path or query", text)
		}
		rest := strings.TrimPrefix(text, "http://")
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			rest = rest[:i]
		}
		if strings.Contains(rest, "{}") {
			return Template{}, fmt.Errorf("template %q: {} must be in the path or query (use --sni-template or --dns-template for names)", text)
		}
	}
	return Template{Field: field, Text: text}, nil
}

// Fixed is a name template's fixed part, the template without "{}" and
// the dot after it ("{}.example.com" → "example.com").
func (t Template) Fixed() string {
	return strings.TrimPrefix(strings.Replace(t.Text, "{}", "", 1), ".")
}

// Value is the field's value for word: a URL template gives the request
// target (the word escaped for a URL), a name template the name.
func (t Template) Value(word string) string {
	if t.Field != FieldPath {
		return strings.Replace(t.Text, "{}", word, 1)
	}
	u := strings.Replace(t.Text, "{}", url.QueryEscape(word), 1)
	rest := strings.TrimPrefix(u, "http://")
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		return pathTarget(rest[i:])
	}
	return "/"
}

// WordResult is one line of `firewatch keywords test --json`.
type WordResult struct {
	Word    string   `json:"word"`
	Status  string   `json:"status"`
	Methods []string `json:"methods"`
}

// TestWords checks every word with parallel checks at a time and returns
// the results in the order of words.
func TestWords(ctx context.Context, c Checker, t Template, words []string, parallel int) []WordResult {
	if parallel < 1 {
		parallel = 1
	}
	out := make([]WordResult, len(words))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(parallel, len(words)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				o := c.Check(ctx, t.Field, t.Value(words[i]), "")
				methods := o.Methods
				if methods == nil {
					methods = []string{}
				}
				out[i] = WordResult{Word: words[i], Status: o.Status, Methods: methods}
			}
		}()
	}
	for i := range words {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	for i := range out {
		if out[i].Status == "" {
			out[i] = WordResult{Word: words[i], Status: StatusError, Methods: []string{}}
		}
	}
	return out
}
