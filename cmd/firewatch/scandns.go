package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firewatch/firewatch/internal/dnsscan"
	"github.com/firewatch/firewatch/internal/geo"
	"github.com/firewatch/firewatch/internal/netx"
	"github.com/firewatch/firewatch/internal/target"
	"github.com/mattn/go-isatty"
	"github.com/miekg/dns"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newScanCmd) }

func newScanCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Measure censorship from outside a network, at scale",
	}
	cmd.AddCommand(newScanDNSCmd())
	return cmd
}

// scanDNSFlags are the flags of `firewatch scan dns`.
type scanDNSFlags struct {
	domains, via, resolvers, qtype, out string
	rate                                int
	asJSON, noProgress, noInfer         bool
	timeout                             time.Duration
	sockets                             int
	control, controlResolver, asnDB     string
	controlNames                        []string
	verifyTLS                           bool
	tlsConcurrency                      int
	caFile, pool, rules                 string
	upload, token, network              string
}

func newScanDNSCmd() *cobra.Command {
	var f scanDNSFlags
	cmd := &cobra.Command{
		Use:   "dns --domains FILE (--via ADDR[,ADDR...] | --resolvers FILE) [--qtype A|AAAA|both] [--rate N] [--out FILE.jsonl] [--upload URL --token T] [--json]",
		Short: "Measure the DNS filter of a network from outside, tens of thousands of names per second",
		Long: `Measure DNS censorship of a whole network from outside it.

--via ADDR[,ADDR...] (the GFWatch method): every query goes to an address
beyond the censor where no DNS server runs, so every answer that comes back
was forged on the path. A timeout means "not censored". For each censored
domain D, firewatchtest.D, Dfirewatchtest.com and D's parents are asked too,
to name the rule (exact, suffix *.D or substring) and its shortest base.

--resolvers FILE (the Satellite method): ask open resolvers inside the network
(one IP per line, or IP,CC,ASN) and compare with a control answer obtained
outside (--control-resolver udp://IP:53, or --control FILE of earlier
records). An answer that is not the control's, not in its AS (--asn-db) and
whose address presents no valid certificate for the name (--verify-tls) is
poisoned. Resolvers failing the well-known --control-names are unusable.

Domains: one per line, a Citizen Lab test-list CSV or a Tranco "rank,domain"
CSV, read as a stream. One JSON line per domain and query type (and resolver)
goes to --out and/or stdout (--json); the run ends with one summary line on
stderr. Ctrl-C stops cleanly, keeping every finished record.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return f.run(cmd) },
	}
	fs := cmd.Flags()
	fs.StringVar(&f.domains, "domains", "", "the domain list: one per line, Citizen Lab CSV or Tranco rank,domain CSV")
	fs.StringVar(&f.via, "via", "", "addresses beyond the censor that run no DNS server, comma-separated (GFWatch method)")
	fs.StringVar(&f.resolvers, "resolvers", "", "open resolvers inside the network: one IP per line or IP,CC,ASN (Satellite method)")
	fs.StringVar(&f.qtype, "qtype", "A", "query type: A, AAAA or both")
	fs.IntVar(&f.rate, "rate", dnsscan.DefaultRate, "queries per second; 0 is unlimited")
	fs.StringVar(&f.out, "out", "", "JSON Lines output file")
	fs.BoolVar(&f.asJSON, "json", false, "write the records as JSON Lines to stdout")
	fs.StringVar(&f.upload, "upload", "", "collector URL to upload the records to (POST /api/v1/dns)")
	fs.StringVar(&f.token, "token", os.Getenv("FIREWATCH_TOKEN"), "the upload token (default $FIREWATCH_TOKEN)")
	fs.StringVar(&f.network, "network", "", "the network the via addresses are in, CC,ASN (e.g. CN,AS4134); default: from --asn-db")
	fs.DurationVar(&f.timeout, "timeout", dnsscan.DefaultTimeout, "how long the responses to each query are collected")
	fs.IntVar(&f.sockets, "sockets", 4, "UDP sockets per address family")
	fs.BoolVar(&f.noInfer, "no-infer", false, "do not infer the blocking rules (--via)")
	fs.StringVar(&f.control, "control", "", "control answers: a JSON Lines file of records made outside (--resolvers)")
	fs.StringVar(&f.controlResolver, "control-resolver", "", "a trusted resolver outside, udp://IP:53 (--resolvers)")
	fs.StringSliceVar(&f.controlNames, "control-names", dnsscan.DefaultControlNames, "well-known names every resolver must answer consistently (--resolvers)")
	fs.StringVar(&f.asnDB, "asn-db", "", "iptoasn TSV table: an answer in the control's AS is not poisoned (default $"+geo.EnvVar+")")
	fs.BoolVar(&f.verifyTLS, "verify-tls", false, "accept an answer whose address presents a valid certificate for the name (--resolvers)")
	fs.IntVar(&f.tlsConcurrency, "tls-concurrency", 16, "TLS handshakes in flight with --verify-tls")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM file of trust roots for --verify-tls instead of the system's")
	fs.StringVar(&f.pool, "pool", "", "forged-address pool file (JSON): read at start, updated at the end")
	fs.StringVar(&f.rules, "rules", "", "write the inferred rules (JSON Lines: rule, base, count) to this file")
	fs.BoolVar(&f.noProgress, "no-progress", false, "never show the progress bar")
	return cmd
}

// config validates the flags into a scan configuration; nothing is sent
// before it succeeds.
func (f *scanDNSFlags) config() (dnsscan.Config, error) {
	var cfg dnsscan.Config
	if f.domains == "" {
		return cfg, errors.New("--domains FILE is required")
	}
	if (f.via == "") == (f.resolvers == "") {
		return cfg, errors.New("exactly one of --via ADDR[,ADDR...] and --resolvers FILE is required")
	}
	if f.out == "" && !f.asJSON && f.upload == "" {
		return cfg, errors.New("--out FILE, --json or --upload URL is required")
	}
	if f.rate < 0 {
		return cfg, fmt.Errorf("--rate %d: must be 0 (unlimited) or more", f.rate)
	}
	if f.timeout <= 0 {
		return cfg, fmt.Errorf("--timeout %s: must be positive", f.timeout)
	}
	if f.sockets < 1 || f.sockets > 64 {
		return cfg, fmt.Errorf("--sockets %d: must be 1 to 64", f.sockets)
	}
	switch strings.ToUpper(f.qtype) {
	case "A":
		cfg.QTypes = []uint16{dns.TypeA}
	case "AAAA":
		cfg.QTypes = []uint16{dns.TypeAAAA}
	case "BOTH":
		cfg.QTypes = []uint16{dns.TypeA, dns.TypeAAAA}
	default:
		return cfg, fmt.Errorf("--qtype %q: want A, AAAA or both", f.qtype)
	}
	n := &netx.Network{}
	if f.caFile != "" {
		pool, err := netx.LoadRootCAs(f.caFile)
		if err != nil {
			return cfg, err
		}
		n.RootCAs = pool
	}
	if v := os.Getenv("FIREWATCH_ROUTABLE"); v != "" {
		r, err := netx.ParseRoutable(v)
		if err != nil {
			return cfg, fmt.Errorf("FIREWATCH_ROUTABLE: %w", err)
		}
		n.Routable = r
	}
	cfg.Network = n
	cfg.Rate, cfg.Timeout, cfg.Sockets, cfg.NoInfer = f.rate, f.timeout, f.sockets, f.noInfer
	if f.via != "" {
		for _, s := range strings.Split(f.via, ",") {
			ap, err := dnsscan.ParseServer(strings.TrimSpace(s))
			if err != nil {
				return cfg, fmt.Errorf("--via: %w", err)
			}
			cfg.Via = append(cfg.Via, ap)
		}
		if f.network != "" {
			cc, asn, ok := strings.Cut(f.network, ",")
			n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(asn)), "AS"), 10, 32)
			if cc = strings.ToUpper(strings.TrimSpace(cc)); !ok || len(cc) != 2 || err != nil {
				return cfg, fmt.Errorf("--network %q: want CC,ASN such as CN,AS4134", f.network)
			}
			cfg.ViaCountry, cfg.ViaASN = cc, uint32(n)
		} else if db, err := geo.OpenDefault(f.asnDB); err == nil {
			if info := db.Lookup(cfg.Via[0].Addr()); info.Known() {
				cfg.ViaCountry, cfg.ViaASN = info.Country, uint32(info.ASN)
			}
		}
	} else {
		fh, err := os.Open(f.resolvers)
		if err != nil {
			return cfg, fmt.Errorf("--resolvers: %w", err)
		}
		cfg.Resolvers, err = dnsscan.ReadResolvers(fh, f.resolvers)
		fh.Close()
		if err != nil {
			return cfg, fmt.Errorf("--resolvers: %w", err)
		}
		if f.control == "" && f.controlResolver == "" {
			return cfg, errors.New("--resolvers needs a control: --control-resolver udp://IP:53 or --control FILE")
		}
		if f.controlResolver != "" {
			if cfg.ControlResolver, err = dnsscan.ParseServer(f.controlResolver); err != nil {
				return cfg, fmt.Errorf("--control-resolver: %w", err)
			}
		}
		if f.control != "" {
			fh, err := os.Open(f.control)
			if err != nil {
				return cfg, fmt.Errorf("--control: %w", err)
			}
			cf, err := dnsscan.ReadControl(fh, f.control)
			fh.Close()
			if err != nil {
				return cfg, fmt.Errorf("--control: %w", err)
			}
			cfg.Control = cf
		}
		for _, name := range f.controlNames {
			if _, ok := dns.IsDomainName(name); !ok {
				return cfg, fmt.Errorf("--control-names: %q is not a domain name", name)
			}
		}
		cfg.ControlNames = f.controlNames
		db, err := geo.OpenDefault(f.asnDB)
		if err != nil && f.asnDB != "" {
			return cfg, fmt.Errorf("--asn-db: %w", err)
		}
		cfg.ASN = db
		cfg.VerifyTLS, cfg.TLSConcurrency = f.verifyTLS, f.tlsConcurrency
	}
	return cfg, nil
}

func (f *scanDNSFlags) run(cmd *cobra.Command) error {
	cfg, err := f.config()
	if err != nil {
		return err
	}
	stderr := cmd.ErrOrStderr()
	cfg.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, "firewatch: "+format+"\n", args...) }
	if f.pool != "" {
		if cfg.Pool, err = dnsscan.LoadPool(f.pool); err != nil {
			return err
		}
	}
	list, err := os.Open(f.domains)
	if err != nil {
		return fmt.Errorf("--domains: %w", err)
	}
	defer list.Close()

	var sinks []lineSink
	if f.out != "" {
		w, err := createRecordFile(f.out)
		if err != nil {
			return err
		}
		sinks = append(sinks, w)
	}
	if f.asJSON {
		sinks = append(sinks, &lineWriter{w: bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)})
	}
	if f.upload != "" {
		u, err := newDNSUploader(cmd.Context(), f.upload, f.token, stderr)
		if err != nil {
			return err
		}
		sinks = append(sinks, u)
	}

	var bar *progressbar.ProgressBar
	var barMu sync.Mutex
	if !f.noProgress && isatty.IsTerminal(os.Stderr.Fd()) {
		total := countDomains(f.domains)
		bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("scanning"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("domains"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }),
		)
		cfg.Progress = func() {
			barMu.Lock()
			bar.Add(1)
			barMu.Unlock()
		}
	}
	dr := target.NewDomainReader(list, f.domains)
	dr.Bad = func(err error) {
		barMu.Lock()
		defer barMu.Unlock()
		if bar != nil {
			bar.Clear()
		}
		fmt.Fprintf(stderr, "firewatch: %v (skipped)\n", err)
	}
	var buf []byte
	sum, scanErr := dnsscan.Scan(cmd.Context(), cfg, dr.Next, func(r *dnsscan.Record) error {
		var err error
		buf, err = json.Marshal(r)
		if err != nil {
			return err
		}
		for _, s := range sinks {
			if err := s.write(buf); err != nil {
				return err
			}
		}
		return nil
	})
	if bar != nil {
		bar.Finish()
	}
	var closeErr error
	for _, s := range sinks {
		closeErr = errors.Join(closeErr, s.close())
	}
	if f.pool != "" && sum.Pool != nil {
		closeErr = errors.Join(closeErr, sum.Pool.Save(f.pool))
	}
	if f.rules != "" {
		closeErr = errors.Join(closeErr, writeRules(f.rules, sum.RuleList))
	}
	if len(sum.Unusable) > 0 {
		fmt.Fprintf(stderr, "firewatch: %d resolver(s) unusable, not counted: %s\n", len(sum.Unusable), strings.Join(sum.Unusable, ", "))
	}
	if dr.Skipped() > 0 {
		fmt.Fprintf(stderr, "firewatch: %d list line(s) skipped\n", dr.Skipped())
	}
	if st := sum.Stats; st.Garbage > 0 || st.SendErrors > 0 {
		fmt.Fprintf(stderr, "firewatch: %d garbage packet(s) ignored, %d late response(s), %d send error(s)\n", st.Garbage, st.Late, st.SendErrors)
	}
	if sum.Unfinished > 0 {
		fmt.Fprintf(stderr, "firewatch: interrupted: %d record(s) cut short and not written\n", sum.Unfinished)
	}
	if scanErr == nil || sum.Domains > 0 {
		fmt.Fprintln(stderr, sum)
	}
	if err := errors.Join(scanErr, closeErr); err != nil {
		return err
	}
	if sum.Interrupted {
		return exitError{130}
	}
	return nil
}

// lineSink takes encoded records, one JSON document each.
type lineSink interface {
	write(line []byte) error
	close() error
}

// lineWriter writes records as lines through a buffer, flushed at most
// every 100 ms and at close: fast at tens of thousands of lines a second,
// and a Ctrl-C still writes every finished record (close runs on it).
type lineWriter struct {
	w    *bufio.Writer
	f    *os.File
	last time.Time
	name string
}

func createRecordFile(path string) (*lineWriter, error) {
	fh, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	return &lineWriter{w: bufio.NewWriterSize(fh, 256<<10), f: fh, name: path}, nil
}

func (l *lineWriter) write(line []byte) error {
	l.w.Write(line)
	if err := l.w.WriteByte('\n'); err != nil {
		return fmt.Errorf("output %s: %w", l.name, err)
	}
	if now := time.Now(); now.Sub(l.last) > 100*time.Millisecond {
		l.last = now
		return l.w.Flush()
	}
	return nil
}

func (l *lineWriter) close() error {
	err := l.w.Flush()
	if l.f != nil {
		if serr := l.f.Sync(); err == nil {
			err = serr
		}
		if cerr := l.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// countDomains counts the list's domains for the progress bar's ETA
// (streaming); -1 when it cannot.
func countDomains(path string) int64 {
	fh, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer fh.Close()
	dr := target.NewDomainReader(fh, path)
	var n int64
	for {
		if _, _, err := dr.Next(); err != nil {
			if err == io.EOF {
				return n
			}
			return -1
		}
		n++
	}
}

func writeRules(path string, rules []dnsscan.InferredRule) error {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	for _, r := range rules {
		enc.Encode(r)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("--rules: %w", err)
	}
	return nil
}
