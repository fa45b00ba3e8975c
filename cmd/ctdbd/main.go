package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/rctdb/rctdb/config"
	"github.com/rctdb/rctdb/failover/linuxhost"
	"github.com/rctdb/rctdb/internal/logging"
	"github.com/rctdb/rctdb/server"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ctdbd:", err)
		os.Exit(1)
	}
}

func defaultConfigPath() string {
	if base := os.Getenv("CTDB_BASE"); base != "" {
		return filepath.Join(base, "ctdb.conf")
	}
	return "/etc/ctdb/ctdb.conf"
}

func run() error {
	confPath := flag.String("config", defaultConfigPath(), "configuration file")
	flag.Bool("interactive", false, "accepted for compatibility: ctdbd always runs in the foreground")
	flag.Parse()

	cfg, err := config.Load(*confPath)
	if err != nil {
		return err
	}
	level := new(slog.LevelVar)
	level.Set(cfg.Logging.SlogLevel()) // Load validated it
	out, closeLog, err := logging.Open(cfg.Logging.Destination(), "ctdbd")
	if err != nil {
		return err
	}
	defer closeLog()
	log := slog.New(logging.NewHandler(out, level))
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}

	set := metrics.NewSet()
	host, err := linuxhost.New(linuxhost.Options{Logger: log.With("subsystem", "host")})
	if err != nil {
		return err
	}
	defer host.Close()
	node, err := server.New(server.Options{Config: cfg, Logger: log, Level: level, Metrics: set, Host: forFailover(host)})
	if err != nil {
		return err
	}
	if err := node.Start(); err != nil {
		return err
	}
	var httpSrv *http.Server
	if addr := cfg.Metrics.Address; addr != "" {
		httpSrv, err = serveMetrics(addr, set, log)
		if err != nil {
			shutdown(node, log)
			return err
		}
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-sig:
		log.Info("received signal, shutting down", "signal", s.String())
	case <-node.Done():
	}
	if httpSrv != nil {
		httpSrv.Close()
	}
	return shutdown(node, log)
}

func shutdown(node *server.Node, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := node.Shutdown(ctx); err != nil {
		log.Error("shutdown", "err", err)
		return err
	}
	return nil
}

// serveMetrics serves Prometheus text on /metrics.
func serveMetrics(addr string, set *metrics.Set, log *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		set.WritePrometheus(w)
		metrics.WriteProcessMetrics(w)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("serving metrics", "addr", ln.Addr().String())
	return srv, nil
}
