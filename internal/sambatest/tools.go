package sambatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// Run runs one of Samba's command-line tools with this node's smb.conf
// (--configfile first, then args), stdin as its input, and returns its
// combined output. A failure names the tool, the node and the exit status
// and carries the output's tail.
func (s *Server) Run(ctx context.Context, stdin, tool string, args ...string) (string, error) {
	return s.run(ctx, "", stdin, nil, tool, append([]string{"--configfile=" + s.Conf}, args...), strings.Join(args, " "))
}

// run runs name with args and extra environment in network namespace ns
// (empty: the caller's); what names the command in errors (so that
// passwords in args stay out of them).
func (s *Server) run(ctx context.Context, ns, stdin string, env []string, name string, args []string, what string) (string, error) {
	cmd := inNetns(ctx, ns, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s through node %d: %w; output:\n%s", name, what, s.Index, err, tail(out.String(), 30))
	}
	return out.String(), nil
}

// SMBClient runs smbclient against this node's address and share (empty:
// ShareName) as user with password, running commands (smbclient -c). The
// password is passed in the environment, not on the command line.
func (s *Server) SMBClient(ctx context.Context, share, user, password, commands string) (string, error) {
	return s.SMBClientVia(ctx, Via{}, share, user, password, commands)
}

// Via says where a client tool runs and which server address it connects
// to, for clients that are not beside the server: a client namespace
// reaching a public address of the cluster, say.
type Via struct {
	// Netns is the network namespace the tool runs in (ip netns exec);
	// empty: the caller's.
	Netns string
	// Addr is the address connected to; empty: the node's Addr.
	Addr string
}

// SMBClientVia is SMBClient run from via.Netns against via.Addr, with this
// node's smb.conf.
func (s *Server) SMBClientVia(ctx context.Context, via Via, share, user, password, commands string) (string, error) {
	if share == "" {
		share = ShareName
	}
	addr := via.Addr
	if addr == "" {
		addr = s.Addr
	}
	svc := fmt.Sprintf("//%s/%s", addr, share)
	args := []string{"--configfile=" + s.Conf, svc, "--user=" + user, "-c", commands}
	return s.run(ctx, via.Netns, "", []string{"PASSWD=" + password}, "smbclient", args,
		fmt.Sprintf("%s as %s -c %q", svc, user, commands))
}

// PDBEdit runs pdbedit with this node's configuration.
func (s *Server) PDBEdit(ctx context.Context, stdin string, args ...string) (string, error) {
	return s.Run(ctx, stdin, "pdbedit", args...)
}

// Net runs net (e.g. "conf", "list") with this node's configuration.
func (s *Server) Net(ctx context.Context, args ...string) (string, error) {
	return s.Run(ctx, "", "net", args...)
}

// AddUser adds (or re-adds, with a new password) a Samba account for the
// existing Unix user through this node: pdbedit -a with the password on
// stdin, as -t reads it (twice, as a confirmation).
func (s *Server) AddUser(ctx context.Context, user, password string) error {
	exists, err := s.HasUser(ctx, user)
	if err != nil {
		return err
	}
	if exists {
		if _, err := s.PDBEdit(ctx, "", "--delete", "--user="+user); err != nil {
			return err
		}
	}
	pw := password + "\n" + password + "\n"
	if _, err := s.run(ctx, "", pw, nil, "pdbedit", []string{"--configfile=" + s.Conf, "--create", "--user=" + user, "--password-from-stdin"},
		"--create --user="+user+" --password-from-stdin"); err != nil {
		return err
	}
	return nil
}

// HasUser reports whether passdb (pdbedit --list) holds an account user.
func (s *Server) HasUser(ctx context.Context, user string) (bool, error) {
	out, err := s.PDBEdit(ctx, "", "--list")
	if err != nil {
		return false, err
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, user+":") {
			return true, nil
		}
	}
	return false, nil
}

// Python runs a python3 script that can import samba (python3-samba) with
// args; the script gets this node's smb.conf through its arguments as the
// caller passes them.
func (s *Server) Python(ctx context.Context, script string, args ...string) (string, error) {
	py, err := PythonWithSamba()
	if err != nil {
		return "", err
	}
	return s.run(ctx, "", "", nil, py, append([]string{"-c", script}, args...), "script "+strings.Join(args, " "))
}

var (
	pythonOnce sync.Once
	pythonPath string
	pythonErr  error
)

// PythonWithSamba finds a python3 that imports samba: Debian's
// python3-samba is built for the system interpreter, which a python3
// earlier on PATH (pyenv, venv) may not be.
func PythonWithSamba() (string, error) {
	pythonOnce.Do(func() {
		for _, p := range []string{"/usr/bin/python3", "python3"} {
			if exec.Command(p, "-c", "import samba.samba3.libsmb_samba_internal").Run() == nil {
				pythonPath = p
				return
			}
		}
		pythonErr = errors.New("sambatest: no python3 imports samba.samba3.libsmb_samba_internal (apt-get install python3-samba)")
	})
	return pythonPath, pythonErr
}

// LogTail returns the last n lines of this node's smbd log, and of its
// stdout and stderr if they hold anything.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(s.Log)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	text := tail(string(b), n)
	if o, _ := os.ReadFile(s.Out); len(bytes.TrimSpace(o)) > 0 {
		text += "\n---- stdout/stderr ----\n" + tail(string(o), n)
	}
	return text
}

// tail returns the last n lines of text.
func tail(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
