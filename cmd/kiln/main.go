// Command kiln is Kiln's one binary. Its subcommands run the API, a worker,
// the scheduler, migrations, admin tasks, or everything at once for local
// development (`kiln dev`).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kilnhq/kiln/extract/pdftext"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `kiln: a job-queue-centred engine for long-running AI work.

Usage:
  kiln api                    serve the HTTP API
  kiln worker                 run jobs from the queues
  kiln scheduler              enqueue periodic work
  kiln migrate up|down|status apply, roll back one, or list migrations
  kiln dev                    migrate, then run api, worker and scheduler in one process
  kiln admin create --email E [--name N]
                              create a platform admin (password from KILN_ADMIN_PASSWORD or stdin)
  kiln bench [-quick]         benchmark submit, end-to-end and start latency beside raw Asynq
  kiln quality [-corpus DIR]  extraction quality report on the shared web-page and PDF corpora
  kiln rag eval | bench [-chunks N]
                              RAG retrieval recall on the shared corpus, or indexing and search speed
  kiln version                print the version
  kiln env                    list the environment variables kiln reads

Configuration comes from the environment; see the README or 'kiln env'.
`

func main() {
	// The PDF extraction child (see pdftext.ExtractIsolated) must be handed
	// over before anything else runs.
	if len(os.Args) > 1 && os.Args[1] == pdftext.ChildArg {
		os.Exit(pdftext.ChildMain(os.Args[2:], os.Stdout))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kiln:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Print(usage)
		return nil
	}
	switch args[0] {
	case "api":
		return runAPI(ctx)
	case "worker":
		return runWorker(ctx)
	case "scheduler":
		return runScheduler(ctx)
	case "migrate":
		return runMigrate(ctx, args[1:])
	case "dev":
		return runDev(ctx)
	case "admin":
		return runAdmin(ctx, args[1:])
	case "bench":
		return runBench(ctx, args[1:])
	case "quality":
		return runQuality(ctx, args[1:])
	case "rag":
		return runRAG(ctx, args[1:])
	case "version", "--version", "-v":
		fmt.Println("kiln", version)
		return nil
	case "env":
		printEnv()
		return nil
	case "help", "--help", "-h":
		fmt.Print(usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n\n%s", args[0], usage)
}
