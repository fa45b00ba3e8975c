package events

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Defaults of Config.
const (
	DefaultEtcDir       = "/etc/ctdb"
	DefaultDataDir      = "/usr/share/ctdb/events"
	DefaultMaxOutput    = 1 << 20
	DefaultDebugTimeout = 60 * time.Second
	DefaultKillGrace    = 5 * time.Second
)

// defaultPath is the PATH scripts get when the environment has none; the
// packaged scripts call ip, iptables, ss, ethtool, ctdb ...
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Config configures a Runner.
type Config struct {
	// EtcDir is $CTDB_BASE: scripts are in EtcDir/events/<component>.
	// Default /etc/ctdb.
	EtcDir string
	// DataDir holds the packaged scripts, DataDir/<component>/*.script,
	// that `script enable` links to. Default /usr/share/ctdb/events (test
	// mode: $CTDB_BASE/share/events).
	DataDir string
	// DebugScript is ctdb.conf's [event] debug script, run as
	// "DebugScript <pid> <event>" when a script times out; relative to
	// EtcDir unless absolute; "" means none.
	DebugScript string
	// Env is the environment of the scripts (CTDB_BASE, CTDB_SOCKET,
	// CTDB_SCRIPT_VARDIR, CTDB_LOGGING, CTDB_DEBUGLEVEL, PATH ...). nil
	// means this process's environment. CTDB_BASE (= EtcDir) and PATH are
	// added when missing, as Debian's `functions` need them.
	Env []string
	// MaxOutput bounds the output kept per script (stdout and stderr
	// together); more is read and dropped. 0 means DefaultMaxOutput.
	MaxOutput int
	// DebugTimeout bounds the debug script. 0 means DefaultDebugTimeout.
	DebugTimeout time.Duration
	// KillGrace is how long a timed-out script's process group has
	// between SIGTERM and SIGKILL. 0 means DefaultKillGrace.
	KillGrace time.Duration
	// Logger receives the scripts' output and the runner's messages; nil
	// discards them.
	Logger *slog.Logger
	// Metrics receives the ctdb_events_* metrics; nil means a private set.
	Metrics *metrics.Set
}

func (c *Config) setDefaults() {
	if c.EtcDir == "" {
		c.EtcDir = DefaultEtcDir
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.MaxOutput == 0 {
		c.MaxOutput = DefaultMaxOutput
	}
	if c.DebugTimeout == 0 {
		c.DebugTimeout = DefaultDebugTimeout
	}
	if c.KillGrace == 0 {
		c.KillGrace = DefaultKillGrace
	}
}

// Validate names the first bad field. It expects the defaults applied
// (New applies them).
func (c *Config) Validate() error {
	if !filepath.IsAbs(c.EtcDir) {
		return fmt.Errorf("events config: EtcDir: %q is not an absolute path", c.EtcDir)
	}
	if !filepath.IsAbs(c.DataDir) {
		return fmt.Errorf("events config: DataDir: %q is not an absolute path", c.DataDir)
	}
	if strings.ContainsRune(c.DebugScript, 0) {
		return errors.New("events config: DebugScript: contains a NUL byte")
	}
	if c.MaxOutput < 0 {
		return fmt.Errorf("events config: MaxOutput: %d is negative", c.MaxOutput)
	}
	if c.DebugTimeout < 0 {
		return fmt.Errorf("events config: DebugTimeout: %v is negative", c.DebugTimeout)
	}
	if c.KillGrace < 0 {
		return fmt.Errorf("events config: KillGrace: %v is negative", c.KillGrace)
	}
	for i, kv := range c.Env {
		if !strings.Contains(kv, "=") || strings.ContainsRune(kv, 0) {
			return fmt.Errorf("events config: Env[%d]: %q is not NAME=VALUE", i, kv)
		}
	}
	return nil
}

// debugScriptPath is the debug script's path, "" for none.
func (c *Config) debugScriptPath() string {
	if c.DebugScript == "" || filepath.IsAbs(c.DebugScript) {
		return c.DebugScript
	}
	return filepath.Join(c.EtcDir, c.DebugScript)
}

// scriptEnv is the environment handed to every script.
func (c *Config) scriptEnv() []string {
	env := c.Env
	if env == nil {
		env = os.Environ()
	}
	env = append([]string(nil), env...)
	has := func(name string) bool {
		for _, kv := range env {
			if strings.HasPrefix(kv, name+"=") {
				return true
			}
		}
		return false
	}
	if !has("CTDB_BASE") {
		env = append(env, "CTDB_BASE="+c.EtcDir)
	}
	if !has("PATH") {
		env = append(env, "PATH="+defaultPath)
	}
	return env
}
