// Command agentgate is the merge gate and dispatcher for agent-written
// changes. Subcommands: serve, migrate, version, policy, keygen, api-token,
// audit (query, verify, export, verify-log) and attest verify.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/server"
	"github.com/agentgate/agentgate/store"
)

// version is set at link time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand(os.Stdout, os.Stderr, os.Environ()).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "agentgate:", err)
		var cfgErr *config.Error
		if errors.As(err, &cfgErr) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func newRootCommand(stdout, stderr io.Writer, environ []string) *cobra.Command {
	var configFile string
	root := &cobra.Command{
		Use:           "agentgate",
		Short:         "Merge gate and dispatcher for agent-written changes",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&configFile, "config", "", "YAML config file (AGENTGATE_* environment variables override it)")
	load := func() (*config.Config, *slog.Logger, error) {
		cfg, err := config.Load(configFile, environ)
		if err != nil {
			return nil, nil, err
		}
		return cfg, newLogger(stderr, cfg.Log), nil
	}

	root.AddCommand(&cobra.Command{
		Use:   "serve",
		Short: "Run the GitHub App server (first start without credentials serves the setup page)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := load()
			if err != nil {
				return err
			}
			return server.Run(cmd.Context(), cfg, server.Version(version), log)
		},
	})
	root.AddCommand(&cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations (serve does this on start too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := load()
			if err != nil {
				return err
			}
			db := cfg.Database()
			st, err := store.Open(cmd.Context(), db.Driver, db.DSN)
			if err != nil {
				return err
			}
			defer st.Close()
			report, err := st.Migrate(cmd.Context(), log)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s store up to date (%d agentgate and %d queue migrations applied now)\n",
				st.Dialect(), len(report.Applied), len(report.QueueApplied))
			return nil
		},
	})
	root.AddCommand(newPolicyCommand(load, environ))
	root.AddCommand(newAttestationCommands(load, environ)...)
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "agentgate", version)
		},
	})
	return root
}

func newLogger(w io.Writer, cfg config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level)) // validated by config.Load
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
