// Package tdb is the only cgo package of rctdb: a thin Go binding of
// libtdb (Debian's libtdb-dev), the trivial database smbd and ctdbd share.
//
// A DB is not safe for concurrent use: libtdb's context is not, and the
// daemon must serialise its use of a database anyway, because fcntl locks
// belong to the process and two goroutines would not exclude each other.
//
// Chain locks for the daemon are taken outside libtdb, as Linux open file
// description (OFD) locks on a separate descriptor (LockFile): they conflict
// with the fcntl locks smbd takes exactly as a lock held by another process
// would, a blocking wait for one queues fairly in the kernel without forking
// a helper process, and releasing one never drops a lock libtdb holds
// through its own descriptor. ChainLockMark then tells libtdb the chain is
// held, so its operations proceed without locking again. ChainKey builds a
// key that hashes to a given chain, so that whole chains can be marked and
// traversed one at a time.
//
// Errors name the operation and the file.
package tdb
