package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/rctdb/rctdb/config"
	"github.com/rctdb/rctdb/failover/linuxhost"
	"github.com/rctdb/rctdb/internal/daemonize"
	"github.com/rctdb/rctdb/internal/logging"
	"github.com/rctdb/rctdb/internal/sysmon"
	"github.com/rctdb/rctdb/server"
)

func main() { os.Exit(run(os.Args[1:])) }

// options are ctdbd's command line: 4.17's (-i/--interactive and popt's
// -?/--help/--usage) and --config, rctdb's, for launchers that keep each
// node's files in one directory.
type options struct {
	interactive bool
	config      string
}

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("ctdbd", flag.ContinueOnError)
	fs.SetOutput(os.Stdout)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: ctdbd [-i|--interactive] [--config FILE]")
		fmt.Fprintln(fs.Output(), "  -i, --interactive  don't fork, stay in the foreground")
		fmt.Fprintln(fs.Output(), "  --config FILE      ctdb.conf to read (default: $CTDB_BASE/ctdb.conf in test mode, else /etc/ctdb/ctdb.conf);")
		fmt.Fprintln(fs.Output(), "                     the nodes file, public_addresses and events are then read beside it")
	}
	fs.BoolVar(&o.interactive, "interactive", false, "don't fork, stay in the foreground")
	fs.BoolVar(&o.interactive, "i", false, "don't fork, stay in the foreground")
	fs.StringVar(&o.config, "config", "", "ctdb.conf to read")
	help := fs.Bool("?", false, "show this help")
	usage := fs.Bool("usage", false, "show a short usage")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if *help || *usage {
		fs.Usage()
		return o, flag.ErrHelp
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o, nil
}

// run is ctdbd's whole life; it returns the exit status.
func run(args []string) int {
	opts, err := parseOptions(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ctdbd:", err)
		return 1
	}
	if opts.interactive || daemonize.IsChild() {
		// The process that serves; the foreground one only waits.
		if err := sysmon.KeepAwake(); err != nil {
			fmt.Fprintln(os.Stderr, "ctdbd: warning:", err)
		}
	}
	detached, report := daemonize.Detached()
	if !opts.interactive && !detached {
		// The foreground process returns once the daemon serves, or
		// with the daemon's reason and exit status.
		if _, err := daemonize.Background(args); err != nil {
			fmt.Fprintln(os.Stderr, "ctdbd:", err)
			var se *daemonize.StartError
			if errors.As(err, &se) {
				return se.ExitCode
			}
			return 1
		}
		return 0
	}
	if err := serve(opts, report.Ready); err != nil {
		report.Failed(err)
		fmt.Fprintln(os.Stderr, "ctdbd:", err)
		return 1
	}
	return 0
}

// loadConfig reads ctdb.conf where the environment (or --config) says.
// With --config, the file's directory stands in for an unset CTDB_BASE
// and holds the files 4.17 reads from CTDB_BASE.
func loadConfig(opts options) (*config.Config, config.Layout, error) {
	getenv, path := os.Getenv, ""
	if opts.config != "" {
		abs, err := filepath.Abs(opts.config)
		if err != nil {
			return nil, config.Layout{}, err
		}
		path = abs
		getenv = func(name string) string {
			if v := os.Getenv(name); v != "" || name != "CTDB_BASE" {
				return v
			}
			return filepath.Dir(abs)
		}
	}
	layout, err := config.LayoutFromEnv(getenv)
	if err != nil {
		return nil, config.Layout{}, err
	}
	layout.Interactive = opts.interactive
	layout.ChooseAddress = bindableNodeAddress
	if path == "" {
		path = layout.ConfigFile()
	} else {
		layout.EtcDir, layout.Base = filepath.Dir(path), filepath.Dir(path)
	}
	return layout.Load(path)
}

// serve runs the daemon until a signal or a client's shutdown request;
// ready is called once it holds its pid file and listens on its socket.
func serve(opts options, ready func()) error {
	cfg, layout, err := loadConfig(opts)
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
	err = serveNode(cfg, layout, level, log, ready)
	if err != nil {
		log.Error("ctdbd exits", "err", err)
	}
	return err
}

func serveNode(cfg *config.Config, layout config.Layout, level *slog.LevelVar, log *slog.Logger, ready func()) error {
	// Signals that arrive while the node starts are acted on once it runs.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	// SIGHUP would end a Go program; ctdbd uses it to reopen its log,
	// which is opened in append mode and survives logrotate's copytruncate.
	signal.Ignore(syscall.SIGHUP)

	pidFile, err := daemonize.CreatePIDFile(layout.PIDFile())
	if err != nil {
		return err
	}
	defer func() {
		if err := pidFile.Remove(); err != nil {
			log.Error("remove pid file", "err", err)
		}
	}()
	log.Log(context.Background(), logging.LevelNotice, "starting ctdbd", "pid", os.Getpid(), "pid_file", pidFile.Path(),
		"test_mode", layout.TestMode, "node_address", cfg.Cluster.NodeAddress.String())
	if err := daemonize.CheckSocketFree(cfg.Cluster.Socket); err != nil {
		return err
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
		httpSrv, err = serveMetrics(addr, cfg.Metrics.Profiling, set, log)
		if err != nil {
			shutdown(node, log)
			return err
		}
	}
	ready()

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

// bindableNodeAddress is this node's address when ctdb.conf names none,
// chosen as 4.17 chooses it: the first active node in the nodes file whose
// address this host can bind the node port on.
func bindableNodeAddress(nodes []config.Node, port uint16) (netip.Addr, error) {
	var tried []string
	for _, n := range nodes {
		if n.Deleted {
			continue
		}
		ln, err := net.Listen("tcp", netip.AddrPortFrom(n.Addr, port).String())
		if err == nil {
			ln.Close()
			return n.Addr, nil
		}
		tried = append(tried, n.Addr.String())
	}
	return netip.Addr{}, fmt.Errorf("not set, and none of the nodes file's addresses (%s) can be bound on port %d here", strings.Join(tried, ", "), port)
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

// serveMetrics serves Prometheus text on /metrics and, with profiling,
// Go's runtime profiles under /debug/pprof/.
func serveMetrics(addr string, profiling bool, set *metrics.Set, log *slog.Logger) (*http.Server, error) {
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
	if profiling {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		log.Info("serving runtime profiles", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	}
	srv := &http.Server{Addr: ln.Addr().String(), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("serving metrics", "addr", ln.Addr().String())
	return srv, nil
}
