package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"

	"github.com/kilnhq/kiln/bench"
	"github.com/kilnhq/kiln/internal/config"
)

// runBench measures Kiln's job pipeline and raw Asynq against the Postgres
// and Redis of DATABASE_URL and REDIS_URL, and prints the table.
func runBench(ctx context.Context, args []string) error {
	cfg, err := loadConfig(config.ModeDev)
	if err != nil {
		return err
	}
	bcfg, profile, err := benchFlags(cfg, args)
	if err != nil {
		return err
	}
	a, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.close()
	bcfg.DB, bcfg.Redis, bcfg.RedisOpt = a.db, a.redis, a.asynq
	bcfg.ServiceLog = benchServiceLog(cfg.LogLevel)
	stopProfile, err := startProfile(profile)
	if err != nil {
		return err
	}
	res, err := bench.Run(ctx, bcfg, a.log)
	if perr := stopProfile(); perr != nil {
		err = errors.Join(err, perr)
	}
	if err != nil {
		return err
	}
	return res.Print(os.Stdout)
}

// benchFlags parses the bench flags over the defaults; -quick shrinks every
// size not given explicitly. It also returns the -cpuprofile path.
func benchFlags(cfg config.Config, args []string) (bench.Config, string, error) {
	b := bench.DefaultConfig()
	b.WorkerConcurrency, b.PollInterval, b.RelayInterval = cfg.WorkerConcurrency, cfg.WorkerPollInterval, cfg.RelayInterval
	b.APIKeyCacheTTL = cfg.APIKeyCacheTTL
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&b.Concurrency, "concurrency", b.Concurrency, "concurrent HTTP clients (and raw Asynq enqueuers)")
	fs.IntVar(&b.WorkerConcurrency, "worker-concurrency", b.WorkerConcurrency, "tasks the worker (and the raw Asynq server) runs at once")
	fs.IntVar(&b.TenantMaxActive, "tenant-max-active", b.TenantMaxActive, "the engine's cap on the bench tenant's admitted jobs")
	fs.StringVar(&b.Namespace, "namespace", "", "queue namespace (default: bench plus a random suffix)")
	fs.DurationVar(&b.Timeout, "timeout", b.Timeout, "longest wait for a phase's jobs or tasks to finish")
	quick := fs.Bool("quick", false, "smoke run: small sizes for every size flag not given")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	q := bench.QuickSizes()
	sizes := []struct {
		name, help string
		v          *int
		quick      int
	}{
		{"submit", "jobs posted with no worker running", &b.Submit, q.Submit},
		{"e2e", "jobs run end to end", &b.E2E, q.E2E},
		{"latency-samples", "single jobs timed from submit to start", &b.LatencySamples, q.LatencySamples},
		{"raw", "no-op tasks raw Asynq enqueues and processes", &b.RawTasks, q.RawTasks},
		{"pickup-samples", "single tasks timed from enqueue to start on a default Asynq server", &b.PickupSamples, q.PickupSamples},
	}
	for _, s := range sizes {
		fs.IntVar(s.v, s.name, *s.v, s.help)
	}
	if err := fs.Parse(args); err != nil {
		return b, "", err
	}
	if fs.NArg() > 0 {
		return b, "", fmt.Errorf("bench: unexpected arguments %q", fs.Args())
	}
	if *quick {
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		for _, s := range sizes {
			if !given[s.name] {
				*s.v = s.quick
			}
		}
	}
	return b, *profile, nil
}

// startProfile starts a CPU profile into path (nothing when empty) and
// returns the function that stops it.
func startProfile(path string) (func() error, error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("bench: -cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: start cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// benchServiceLog is the logger of the services under test: their lines
// are formatted at KILN_LOG_LEVEL as in production, so logging costs what
// it costs there, but only warnings and errors reach stderr.
func benchServiceLog(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(splitHandler{
		all:  slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: l}),
		loud: slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: max(l, slog.LevelWarn)}),
	}).With("version", version)
}

// splitHandler sends every record to all and the records loud enables to
// loud as well.
type splitHandler struct{ all, loud slog.Handler }

func (h splitHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.all.Enabled(ctx, l) || h.loud.Enabled(ctx, l)
}

func (h splitHandler) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	if h.all.Enabled(ctx, r.Level) {
		errs = append(errs, h.all.Handle(ctx, r.Clone()))
	}
	if h.loud.Enabled(ctx, r.Level) {
		errs = append(errs, h.loud.Handle(ctx, r))
	}
	return errors.Join(errs...)
}

func (h splitHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return splitHandler{all: h.all.WithAttrs(attrs), loud: h.loud.WithAttrs(attrs)}
}

func (h splitHandler) WithGroup(name string) slog.Handler {
	return splitHandler{all: h.all.WithGroup(name), loud: h.loud.WithGroup(name)}
}
