package tdb

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// freelistTop is sizeof(struct tdb_header): libtdb locks hash chain c at
// the byte freelistTop + 4*c, and the all-record lock covers every chain
// byte and the record locks from freelistTop to the end of the file.
const freelistTop = 168

// ChainOffset is the byte libtdb locks for hash chain c.
func ChainOffset(chain uint32) int64 { return freelistTop + 4*int64(chain) }

// AllRecordOffset is where the all-record lock starts; it runs to the end
// of the file (length 0).
const AllRecordOffset = freelistTop

// LockFile is a descriptor of a TDB file used only for open file
// description locks. It must stay open as long as the DB handle on the same
// file: closing any descriptor of a file drops the fcntl locks the process
// holds on it, libtdb's included.
type LockFile struct {
	f *os.File
	// rc reaches the descriptor: a call through it holds a reference
	// that Close waits out before the descriptor is really closed, so a
	// lock still waiting in the kernel when the file closes can never
	// act on a recycled descriptor number.
	rc   syscall.RawConn
	path string
}

// OpenLockFile opens path for OFD locking.
func OpenLockFile(path string) (*LockFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open lock descriptor of %s: %w", path, err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open lock descriptor of %s: %w", path, err)
	}
	return &LockFile{f: f, rc: rc, path: path}, nil
}

// Close closes the descriptor; close the DB handle of the file first. A
// Lock still waiting returns once it obtains the lock (which the close
// then drops); later calls fail.
func (l *LockFile) Close() error { return l.f.Close() }

func (l *LockFile) fcntl(cmd int, typ int16, off, length int64) error {
	lk := unix.Flock_t{Type: typ, Whence: 0, Start: off, Len: length}
	var ferr error
	err := l.rc.Control(func(fd uintptr) {
		for {
			ferr = unix.FcntlFlock(fd, cmd, &lk)
			if ferr != unix.EINTR {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return ferr
}

// TryLock takes a write lock on [off, off+length) if no other owner holds
// any part of it; length 0 means to the end of the file.
func (l *LockFile) TryLock(off, length int64) (bool, error) {
	err := l.fcntl(unix.F_OFD_SETLK, unix.F_WRLCK, off, length)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EACCES):
		return false, nil
	}
	return false, fmt.Errorf("lock %s at %d+%d: %w", l.path, off, length, err)
}

// Lock takes a write lock, waiting in the kernel's queue for it. The wait
// cannot be interrupted: a caller that gives up must unlock once it returns.
func (l *LockFile) Lock(off, length int64) error {
	if err := l.fcntl(unix.F_OFD_SETLKW, unix.F_WRLCK, off, length); err != nil {
		return fmt.Errorf("lock %s at %d+%d: %w", l.path, off, length, err)
	}
	return nil
}

// Unlock releases a lock taken by TryLock or Lock.
func (l *LockFile) Unlock(off, length int64) error {
	if err := l.fcntl(unix.F_OFD_SETLK, unix.F_UNLCK, off, length); err != nil {
		return fmt.Errorf("unlock %s at %d+%d: %w", l.path, off, length, err)
	}
	return nil
}

// Holder returns the pid of a process whose lock conflicts with a write
// lock on the range (-1 for an OFD lock, whose owner has no pid), or ok
// false if none does.
func (l *LockFile) Holder(off, length int64) (pid int32, ok bool, err error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: off, Len: length}
	var ferr error
	if err := l.rc.Control(func(fd uintptr) { ferr = unix.FcntlFlock(fd, unix.F_OFD_GETLK, &lk) }); err != nil {
		ferr = err
	}
	if ferr != nil {
		return 0, false, fmt.Errorf("query lock on %s at %d+%d: %w", l.path, off, length, ferr)
	}
	if lk.Type == unix.F_UNLCK {
		return 0, false, nil
	}
	return lk.Pid, true, nil
}
