package sambatest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ShareName is the share every node serves from Options.ShareDir.
const ShareName = "share"

// Node is where one smbd runs: its daemon's client socket, the address
// smbd binds to (port 445) and a directory for its own files. Nothing here
// depends on which CTDB-protocol daemon serves Socket.
type Node struct {
	// Socket is the node's CTDB client socket (smb.conf "ctdbd socket").
	Socket string
	// Addr is the IPv4 address smbd serves, which Start waits on. Without
	// Netns smbd listens on it alone and it need not be configured on an
	// interface (a 127.x.y.z loopback address is the usual case).
	Addr string
	// Dir holds this node's smb.conf, Samba directories and log; it is
	// created if missing and must not be shared with another node.
	Dir string
	// Netns, if set, names the network namespace (ip netns) smbd runs
	// in. smbd then listens on every address of the namespace ("bind
	// interfaces only = no"), so that it serves the public addresses
	// that come and go as its daemon takes and releases them, and Addr
	// must be an address of the namespace.
	Netns string
}

// Options configure a clustered Samba.
type Options struct {
	// Nodes, one smbd each, in pnn order.
	Nodes []Node
	// ShareDir is the directory every node serves as [share]; it stands in
	// for the cluster file system.
	ShareDir string
	// Workgroup of every node (default RCTDBTEST).
	Workgroup string
	// NetbiosName of the cluster (default RCTDBSMB). Every node uses the
	// same name, as clustered Samba expects: the SAM domain SID is kept in
	// the clustered secrets.tdb under this name, so per-node names would
	// give each node a different local domain for one shared passdb.
	NetbiosName string
	// LogLevel is smb.conf's "log level" (default "1").
	LogLevel string
	// Registry appends "include = registry" to [global], so that
	// configuration set with `net conf` (registry.tdb, a persistent
	// clustered database) applies and registry shares are served. It also
	// makes smbd and every tool attach registry.tdb when loading the
	// configuration, so it is off unless a test needs it.
	Registry bool
	// Global is appended to [global] (before the registry include).
	Global string
	// Smbd is the smbd binary (default: smbd on PATH).
	Smbd string
}

// Cluster is a clustered Samba: one Server per node.
type Cluster struct {
	Servers  []*Server
	ShareDir string
	smbd     string
}

// Server is one node's smbd and its configuration.
type Server struct {
	Node
	// Index is the node's position in Options.Nodes.
	Index int
	// Conf is the node's smb.conf.
	Conf string
	// Log is the file smbd logs to; Out takes its stdout and stderr
	// (normally empty).
	Log, Out string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been waited for
	waitErr error         // cmd.Wait's result, once exited is closed
}

// New writes every node's smb.conf and directories; Start starts the smbd
// processes. Samba's tools can be used before Start: pdbedit, net conf and
// dbwrap_tool talk to the daemon, not to smbd.
func New(opts Options) (*Cluster, error) {
	if len(opts.Nodes) == 0 {
		return nil, errors.New("sambatest: no nodes")
	}
	if opts.ShareDir == "" {
		return nil, errors.New("sambatest: a share directory is required")
	}
	if opts.Workgroup == "" {
		opts.Workgroup = "RCTDBTEST"
	}
	if opts.NetbiosName == "" {
		opts.NetbiosName = "RCTDBSMB"
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "1"
	}
	if opts.Smbd == "" {
		opts.Smbd = "smbd"
	}
	smbd, err := exec.LookPath(opts.Smbd)
	if err != nil {
		return nil, fmt.Errorf("sambatest: find smbd (apt-get install samba): %w", err)
	}
	share, err := filepath.Abs(opts.ShareDir)
	if err != nil {
		return nil, fmt.Errorf("sambatest: share directory: %w", err)
	}
	if err := os.MkdirAll(share, 0o777); err != nil {
		return nil, fmt.Errorf("sambatest: create share directory: %w", err)
	}
	c := &Cluster{ShareDir: share, smbd: smbd}
	for i, n := range opts.Nodes {
		s, err := configure(i, n, opts, share)
		if err != nil {
			return nil, err
		}
		c.Servers = append(c.Servers, s)
	}
	return c, nil
}

// sambaDirs are the smb.conf directory parameters each node gets its own
// directory for, so that no node shares local state with another or with
// a Samba installed on the host.
var sambaDirs = []string{"lock directory", "state directory", "cache directory",
	"private dir", "pid directory", "ncalrpc dir", "binddns dir"}

// configure writes node i's directories and smb.conf.
func configure(i int, n Node, opts Options, share string) (*Server, error) {
	a, err := netip.ParseAddr(n.Addr)
	if err != nil || !a.Is4() {
		return nil, fmt.Errorf("sambatest: node %d: address %q is not IPv4", i, n.Addr)
	}
	if n.Socket == "" || n.Dir == "" {
		return nil, fmt.Errorf("sambatest: node %d: socket and directory are required", i)
	}
	dir, err := filepath.Abs(n.Dir)
	if err != nil {
		return nil, fmt.Errorf("sambatest: node %d directory: %w", i, err)
	}
	n.Dir = dir
	s := &Server{Node: n, Index: i, Conf: filepath.Join(dir, "smb.conf"), Log: filepath.Join(dir, "log.smbd"), Out: filepath.Join(dir, "smbd.out")}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by sambatest for node %d.\n[global]\n", i)
	fmt.Fprintf(&b, "\tclustering = yes\n\tctdbd socket = %s\n", n.Socket)
	fmt.Fprintf(&b, "\tnetbios name = %s\n\tworkgroup = %s\n", opts.NetbiosName, opts.Workgroup)
	if n.Netns != "" {
		// A socket bound to one address would miss the public addresses
		// taken later; "interfaces" is left to Samba's default (every
		// interface of the namespace), which only nmbd and multichannel
		// use once smbd listens on the wildcard.
		b.WriteString("\tbind interfaces only = no\n\tsmb ports = 445\n")
	} else {
		// Samba accepts a plain address only if an interface carries it
		// exactly; "address/mask" with the address neither the network
		// nor the broadcast address of the mask is taken as given. /8
		// works for every 127.x.y.z test address, which lo serves
		// without carrying it.
		fmt.Fprintf(&b, "\tinterfaces = %s/8\n\tbind interfaces only = yes\n\tsmb ports = 445\n", n.Addr)
	}
	for _, d := range sambaDirs {
		p := filepath.Join(dir, strings.ReplaceAll(d, " ", "_"))
		if err := os.MkdirAll(p, 0o755); err != nil {
			return nil, fmt.Errorf("sambatest: node %d: create %s: %w", i, d, err)
		}
		fmt.Fprintf(&b, "\t%s = %s\n", d, p)
	}
	fmt.Fprintf(&b, "\tlog file = %s\n\tlog level = %s\n", s.Log, opts.LogLevel)
	// No printing (it would look for CUPS and spoolss), no avahi.
	b.WriteString("\tload printers = no\n\tprinting = bsd\n\tprintcap name = /dev/null\n\tdisable spoolss = yes\n")
	b.WriteString("\tmulticast dns register = no\n")
	if opts.Global != "" {
		b.WriteString(strings.TrimRight(opts.Global, "\n") + "\n")
	}
	if opts.Registry {
		// Must come last: registry values override what precedes it.
		b.WriteString("\tinclude = registry\n")
	}
	fmt.Fprintf(&b, "\n[%s]\n\tpath = %s\n\tread only = no\n", ShareName, share)
	if err := os.WriteFile(s.Conf, []byte(b.String()), 0o644); err != nil {
		return nil, fmt.Errorf("sambatest: node %d: write smb.conf: %w", i, err)
	}
	return s, nil
}

// Start starts every node's smbd and waits until each answers an SMB2
// NEGOTIATE on its address, or one exits, or ctx ends. On error the
// servers already started keep running; Stop stops them.
//
// The first smbd starts alone: on a fresh cluster each smbd records its
// version under a g_lock, and two that find no version at once both try to
// upgrade their read lock; Samba refuses one of them
// (NT_STATUS_SXS_VERSION_CONFLICT), whatever the daemon. CTDB's event
// scripts start smbd one node after another, too.
func (c *Cluster) Start(ctx context.Context) error {
	if len(c.Servers) == 0 {
		return nil
	}
	first := c.Servers[0]
	if err := first.start(c.smbd); err != nil {
		return err
	}
	if err := first.waitReady(ctx); err != nil {
		return err
	}
	for _, s := range c.Servers[1:] {
		if err := s.start(c.smbd); err != nil {
			return err
		}
	}
	return c.each(func(s *Server) error { return s.waitReady(ctx) })
}

// Stop stops every smbd with its children and reaps them all.
func (c *Cluster) Stop() error {
	return c.each((*Server).Stop)
}

// each runs fn on every server at once and joins their errors.
func (c *Cluster) each(fn func(*Server) error) error {
	errs := make([]error, len(c.Servers))
	var wg sync.WaitGroup
	for i, s := range c.Servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(s)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// LogTails renders the last n lines of every node's smbd log.
func (c *Cluster) LogTails(n int) string {
	var b strings.Builder
	for _, s := range c.Servers {
		fmt.Fprintf(&b, "---- smbd node %d %s (tail) ----\n%s\n", s.Index, s.Log, s.LogTail(n))
	}
	return b.String()
}

// start launches smbd in the foreground in a process group of its own:
// on SIGTERM smbd signals its whole process group, which must therefore
// be its own, never the test's.
func (s *Server) start(smbd string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return fmt.Errorf("sambatest: smbd of node %d is already started", s.Index)
	}
	becomeSubreaper()
	out, err := os.OpenFile(s.Out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("sambatest: node %d: open smbd output: %w", s.Index, err)
	}
	defer out.Close()
	// -l (log basename = the node's directory, so the log is Log): with
	// only smb.conf's "log file", what smbd logs while it loads the
	// configuration (a failed attach of registry.tdb, say) is lost.
	cmd := s.command(smbd, "--foreground", "--no-process-group", "--log-basename="+s.Dir, "--configfile="+s.Conf)
	cmd.Stdout, cmd.Stderr = out, out
	// Pdeathsig: smbd (and through it its group) goes if the test dies;
	// ip netns exec execs smbd, which keeps it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("sambatest: start smbd of node %d: %w", s.Index, err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(s.exited)
	}()
	return nil
}

// waitReady waits until smbd answers an SMB2 NEGOTIATE.
func (s *Server) waitReady(ctx context.Context) error {
	start := time.Now()
	var last error
	for {
		select {
		case <-s.exited:
			s.mu.Lock()
			err := s.waitErr
			s.mu.Unlock()
			return fmt.Errorf("sambatest: smbd of node %d exited before it accepted SMB connections (%v); log tail:\n%s",
				s.Index, err, s.LogTail(30))
		default:
		}
		if last = probeSMB(ctx, s.Netns, s.Addr); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sambatest: smbd of node %d not answering on %s:445 after %v: %w (last probe: %v); log tail:\n%s",
				s.Index, s.Addr, time.Since(start).Round(time.Millisecond), ctx.Err(), last, s.LogTail(30))
		case <-s.exited:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// PID is the smbd parent's process id (and its process group id), 0
// before Start.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Kill ends smbd and all its children at once with SIGKILL, as when
// their host dies. Their kernel still closes their sockets (FIN or RST to
// each client): for clients to hear nothing, as from a dead host, cut the
// node's link first. Stop afterwards reaps them. Killing a server that is
// not running is harmless.
func (s *Server) Kill() error {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	default:
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("sambatest: kill smbd of node %d: %w", s.Index, err)
	}
	return nil
}

// Stop ends smbd: SIGTERM to the parent (which passes it on to its process
// group), SIGKILL to the group for what is left after a grace period, and
// every process of the group is reaped. Stopping a server that was never
// started, or twice, is harmless.
func (s *Server) Stop() error {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	pgid := cmd.Process.Pid
	select {
	case <-exited:
	default:
		syscall.Kill(pgid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-pgid, syscall.SIGKILL)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				return fmt.Errorf("sambatest: smbd of node %d (pid %d) survives SIGKILL", s.Index, pgid)
			}
		}
	}
	if err := reapGroup(pgid, 2*time.Second, 10*time.Second); err != nil {
		return fmt.Errorf("sambatest: stop smbd of node %d: %w", s.Index, err)
	}
	return nil
}

// command runs name with args in the node's namespace, if it has one.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	return inNetns(context.Background(), s.Netns, name, args...)
}

// inNetns is exec.CommandContext, through ip netns exec if ns is set
// (which execs the command: the pid is the command's).
func inNetns(ctx context.Context, ns, name string, args ...string) *exec.Cmd {
	if ns == "" {
		return exec.CommandContext(ctx, name, args...)
	}
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
}
