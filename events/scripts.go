package events

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

const scriptSuffix = ".script"

// isScriptFile reports whether a directory entry is an event script, as
// fnmatch("[0-9][0-9].*.script", name, 0): two digits, a dot, anything,
// ".script".
func isScriptFile(name string) bool {
	return len(name) >= 3 && isDigit(name[0]) && isDigit(name[1]) && name[2] == '.' &&
		strings.HasSuffix(name[3:], scriptSuffix)
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// scriptEntry is a script found in a directory.
type scriptEntry struct {
	name    string // file name without ".script"
	path    string
	enabled bool // owner-executable after following symlinks
}

// readScripts lists the scripts of dir as ctdb's scandir with alphasort
// does: sorted by file name (byte order, as in the C locale).
func readScripts(dir string) ([]scriptEntry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var list []scriptEntry
	for _, n := range names {
		if !isScriptFile(n) {
			continue
		}
		e := scriptEntry{name: strings.TrimSuffix(n, scriptSuffix), path: dir + "/" + n}
		if st, err := os.Stat(e.path); err == nil && st.Mode().Perm()&0o100 != 0 {
			e.enabled = true
		}
		list = append(list, e)
	}
	return list, nil
}

// validComponent rejects component names that would leave the events
// directory.
func validComponent(c string) bool {
	return c != "" && c != "." && c != ".." && !strings.ContainsRune(c, '/')
}

// chmodScript sets or clears the execute bits of a regular script file in
// dir, as ctdb's event_script_chmod does (the SCRIPT command of the
// protocol, and `script enable|disable` of a regular file): script may
// carry the ".script" suffix; a name that is no script is EINVAL; a
// symlink is EINVAL; a missing one ENOENT.
func chmodScript(dir, script string, enable bool) syscall.Errno {
	file := script
	if len(script) <= len(scriptSuffix) || !strings.HasSuffix(script, scriptSuffix) {
		file = script + scriptSuffix
	}
	if strings.ContainsRune(file, '/') {
		return syscall.ENOENT // readdir would not find it
	}
	if _, err := os.Stat(dir); err != nil {
		return errnoOf(err)
	}
	path := dir + "/" + file
	lst, err := os.Lstat(path)
	if err != nil {
		return syscall.ENOENT
	}
	if !isScriptFile(file) {
		return syscall.EINVAL
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return errnoOf(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return errnoOf(err)
	}
	if !os.SameFile(lst, st) {
		return syscall.EINVAL // a symlink: enable/disable the link instead
	}
	mode := st.Mode()
	if enable {
		mode |= 0o111
	} else {
		mode &^= 0o111
	}
	if err := f.Chmod(mode); err != nil {
		return errnoOf(err)
	}
	return 0
}

// Dirs are the directories of the script commands that ctdb-event runs on
// the file system itself: `script list|enable|disable`.
type Dirs struct {
	// Etc is $CTDB_BASE (/etc/ctdb): scripts in Etc/events/<component>.
	Etc string
	// Data holds the packaged scripts: Data/<component>/*.script
	// (/usr/share/ctdb/events).
	Data string
}

// etcDir is where a component's scripts run from. Paths are joined as
// ctdb-event joins them (no cleaning), since they appear in its messages.
func (d Dirs) etcDir(component string) string {
	return d.Etc + "/events/" + component
}

// ListedScript is a line of `ctdb event script list`.
type ListedScript struct {
	Name    string
	Enabled bool
}

// ScriptList is what `ctdb event script list` shows.
type ScriptList struct {
	// Packaged are the data directory's scripts; Enabled when the etc
	// directory has a symlink to exactly that script.
	Packaged []ListedScript
	// Local are the other scripts of the etc directory; Enabled when
	// executable.
	Local []ListedScript
	// Separated reports whether a blank line separates the two lists.
	Separated bool
}

// ScriptError is a failed script command with what ctdb-event 4.17
// prints for it.
type ScriptError struct {
	// Errno is the command's result (ctdb-event's exit status).
	Errno syscall.Errno
	// Stdout is the line printed on standard output, Stderr the one on
	// standard error (each "" or newline-terminated).
	Stdout, Stderr string
}

func (e *ScriptError) Error() string {
	msg := strings.TrimSpace(e.Stdout + e.Stderr)
	if msg == "" {
		msg = e.Errno.Error()
	}
	return "events: " + msg
}

func (e *ScriptError) Unwrap() error { return e.Errno }

func listFailed(errno syscall.Errno) *ScriptError {
	return &ScriptError{Errno: errno, Stderr: fmt.Sprintf("Command script list finished with result=%d\n", int(errno))}
}

// ListScripts lists a component's scripts as `ctdb event script list`:
// the packaged ones first (flagged when linked from the etc directory),
// then the etc directory's own. A missing data directory is ENOENT.
func (d Dirs) ListScripts(component string) (*ScriptList, error) {
	dataDir, err := filepath.EvalSymlinks(d.Data + "/" + component)
	if err != nil {
		if errno := errnoOf(err); errno != syscall.ENOENT {
			return nil, &ScriptError{Errno: errno}
		}
		return nil, listFailed(syscall.ENOENT)
	}
	dataDir, _ = filepath.Abs(dataDir)
	data, err := readScripts(dataDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, listFailed(errnoOf(err))
	}
	etc, err := readScripts(d.etcDir(component))
	if err != nil {
		return nil, listFailed(errnoOf(err))
	}

	// Both lists are sorted: one walk flags the packaged scripts linked
	// from etc and drops those links from the local list, comparing names
	// exactly as ctdb-event does.
	list := &ScriptList{}
	matchedLink := make([]bool, len(etc))
	matched, j := 0, 0
	for _, ds := range data {
		enabled := false
		for j < len(etc) {
			cmp := strings.Compare(etc[j].name, ds.name)
			if cmp > 0 {
				break
			}
			if cmp < 0 {
				j++
				continue
			}
			target, err := os.Readlink(etc[j].path)
			if err == nil && target == ds.path {
				enabled = true
				matchedLink[j] = true
				matched++
			}
			j++
			break
		}
		list.Packaged = append(list.Packaged, ListedScript{Name: ds.name, Enabled: enabled})
	}
	list.Separated = len(data) > 0 && matched != len(etc)
	for i, e := range etc {
		if !matchedLink[i] {
			list.Local = append(list.Local, ListedScript{Name: e.name, Enabled: e.enabled})
		}
	}
	return list, nil
}

// EnableScript enables a script as `ctdb event script enable`: an
// existing symlink is left alone, a regular file gets its execute bits, a
// missing script becomes a symlink to the packaged one.
func (d Dirs) EnableScript(component, script string) error {
	etcScript := d.etcDir(component) + "/" + script + scriptSuffix
	st, err := os.Lstat(etcScript)
	if err == nil {
		switch {
		case st.Mode()&os.ModeSymlink != 0:
			return nil
		case st.Mode().IsRegular():
			return d.chmod(component, script, true)
		}
		return &ScriptError{Errno: syscall.EINVAL, Stdout: fmt.Sprintf("Script %s is not a file or a link\n", etcScript)}
	}
	if errnoOf(err) != syscall.ENOENT {
		return &ScriptError{Errno: syscall.EINVAL, Stdout: fmt.Sprintf("Script %s does not exist\n", etcScript)}
	}
	missing := &ScriptError{Errno: syscall.ENOENT, Stdout: fmt.Sprintf("Script %s does not exist in %s\n", script, component)}
	dataScript, err := filepath.EvalSymlinks(d.Data + "/" + component + "/" + script + scriptSuffix)
	if err != nil {
		if errno := errnoOf(err); errno != syscall.ENOENT {
			return &ScriptError{Errno: errno}
		}
		return missing
	}
	if dataScript, err = filepath.Abs(dataScript); err != nil {
		return missing
	}
	if _, err := os.Stat(dataScript); err != nil {
		return missing
	}
	if err := os.Symlink(dataScript, etcScript); err != nil {
		return &ScriptError{Errno: syscall.EIO, Stdout: fmt.Sprintf("Failed to create symlink %s\n", etcScript)}
	}
	return nil
}

// DisableScript disables a script as `ctdb event script disable`: a
// symlink is removed, a regular file loses its execute bits, a missing
// script is no error.
func (d Dirs) DisableScript(component, script string) error {
	etcScript := d.etcDir(component) + "/" + script + scriptSuffix
	st, err := os.Lstat(etcScript)
	if err != nil {
		return nil
	}
	switch {
	case st.Mode()&os.ModeSymlink != 0:
		if err := os.Remove(etcScript); err != nil {
			return &ScriptError{Errno: syscall.EIO, Stdout: fmt.Sprintf("Failed to remove symlink %s\n", etcScript)}
		}
		return nil
	case st.Mode().IsRegular():
		return d.chmod(component, script, false)
	}
	return &ScriptError{Errno: syscall.EINVAL, Stdout: fmt.Sprintf("Script %s is not a file or a link\n", etcScript)}
}

func (d Dirs) chmod(component, script string, enable bool) error {
	switch errno := chmodScript(d.etcDir(component), script, enable); errno {
	case 0:
		return nil
	case syscall.EINVAL:
		return &ScriptError{Errno: errno, Stdout: fmt.Sprintf("Script %s is invalid in %s\n", script, component)}
	case syscall.ENOENT:
		return &ScriptError{Errno: errno, Stdout: fmt.Sprintf("Script %s does not exist in %s\n", script, component)}
	default:
		return &ScriptError{Errno: errno}
	}
}
