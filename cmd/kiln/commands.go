package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/kilnhq/kiln/internal/config"
	"github.com/kilnhq/kiln/internal/schema"
	"github.com/kilnhq/kiln/worker"
)

// start loads the configuration for mode and opens the app.
func start(ctx context.Context, mode config.Mode) (*app, error) {
	cfg, err := loadConfig(mode)
	if err != nil {
		return nil, err
	}
	return open(ctx, cfg)
}

func runAPI(ctx context.Context) error {
	a, err := start(ctx, config.ModeAPI)
	if err != nil {
		return err
	}
	defer a.close()
	return a.serveAPI(ctx)
}

func runWorker(ctx context.Context) error {
	a, err := start(ctx, config.ModeWorker)
	if err != nil {
		return err
	}
	defer a.close()
	return a.runWorker(ctx)
}

func runScheduler(ctx context.Context) error {
	a, err := start(ctx, config.ModeScheduler)
	if err != nil {
		return err
	}
	defer a.close()
	_, periodic := a.workerMux()
	go a.jobs.RunRelay(ctx)
	go a.serveMetrics(ctx)
	return worker.RunScheduler(ctx, a.asynq, a.log, periodic)
}

func runMigrate(ctx context.Context, args []string) error {
	if len(args) != 1 || (args[0] != "up" && args[0] != "down" && args[0] != "status") {
		return errors.New("usage: kiln migrate up|down|status")
	}
	cfg, err := loadConfig(config.ModeMigrate)
	if err != nil {
		return err
	}
	a, err := open(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.close()
	m, err := schema.Migrator(a.db, a.log, true)
	if err != nil {
		return err
	}
	defer m.Close()
	switch args[0] {
	case "up":
		return m.Up(ctx)
	case "down":
		return m.Down(ctx)
	}
	st, err := m.Status(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "VERSION\tMIGRATION\tAPPLIED AT")
	for _, s := range st {
		applied := "pending"
		if !s.AppliedAt.IsZero() {
			applied = s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
		}
		fmt.Fprintf(w, "%d\t%s\t%s\n", s.Version, s.Name, applied)
	}
	return w.Flush()
}

func runAdmin(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: kiln admin create --email E [--name N] (password from KILN_ADMIN_PASSWORD or stdin)")
	}
	fs := flag.NewFlagSet("admin create", flag.ContinueOnError)
	email := fs.String("email", "", "the admin's email")
	name := fs.String("name", "", "the admin's name")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *email == "" {
		return errors.New("admin create: --email is required")
	}
	password, err := adminPassword()
	if err != nil {
		return err
	}
	a, err := start(ctx, config.ModeAdmin)
	if err != nil {
		return err
	}
	defer a.close()
	u, err := a.identity.CreatePlatformAdmin(ctx, *email, password, *name)
	if err != nil {
		return fmt.Errorf("admin create: %w", err)
	}
	fmt.Printf("created platform admin %s (%s)\n", u.Email, u.ID)
	return nil
}

// adminPassword reads the password from KILN_ADMIN_PASSWORD or one line of
// standard input, so it never appears in the process list.
func adminPassword() (string, error) {
	if p := os.Getenv("KILN_ADMIN_PASSWORD"); p != "" {
		return p, nil
	}
	fmt.Fprint(os.Stderr, "password: ")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
