package daemonize

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// PIDFile is a pid file this process holds: a POSIX record lock on the
// whole file, as Samba's pidfile_path_create takes it, so that a ctdbd
// 4.17 and this daemon on the same pid file exclude each other. The lock
// goes with the process, however it ends; a file left by a killed daemon
// is taken over.
type PIDFile struct {
	path string
	f    *os.File
}

// HeldError is returned by CreatePIDFile when a live process holds the
// pid file.
type HeldError struct {
	Path string
	// PID is the holder, as the lock reports it (0 if unknown).
	PID int
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("pid file %s is held by a running daemon (pid %d): another ctdbd runs with this run directory", e.Path, e.PID)
}

// CreatePIDFile creates (or takes over) the pid file at path, creating its
// directory, locks it and writes this process's pid into it. A live
// holder gives a *HeldError.
func CreatePIDFile(path string) (*PIDFile, error) {
	// The run directory also holds the client socket: one the daemon
	// creates keeps others out (0700).
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create pid file %s: %w", path, err)
	}
	// One retry: the holder may exit between the failed lock and the
	// query, which then finds no lock.
	for range 2 {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, fmt.Errorf("create pid file %s: %w", path, err)
		}
		lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}
		err = unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk)
		if err == nil {
			return writePID(path, f)
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) {
			f.Close()
			return nil, fmt.Errorf("lock pid file %s: %w", path, err)
		}
		q := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}
		qerr := unix.FcntlFlock(f.Fd(), unix.F_GETLK, &q)
		f.Close()
		if qerr != nil {
			return nil, fmt.Errorf("query pid file lock %s: %w", path, qerr)
		}
		if q.Type != unix.F_UNLCK {
			return nil, &HeldError{Path: path, PID: int(q.Pid)}
		}
	}
	return nil, fmt.Errorf("lock pid file %s: its lock keeps changing hands", path)
}

func writePID(path string, f *os.File) (*PIDFile, error) {
	text := strconv.Itoa(os.Getpid()) + "\n"
	_, err := f.WriteAt([]byte(text), 0)
	if err == nil {
		err = f.Truncate(int64(len(text)))
	}
	if err != nil {
		os.Remove(path)
		f.Close()
		return nil, fmt.Errorf("write pid file %s: %w", path, err)
	}
	return &PIDFile{path: path, f: f}, nil
}

// Path is the pid file's path.
func (p *PIDFile) Path() string { return p.path }

// Remove deletes the pid file and releases its lock.
func (p *PIDFile) Remove() error {
	err := os.Remove(p.path)
	p.f.Close()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove pid file %s: %w", p.path, err)
	}
	return nil
}
