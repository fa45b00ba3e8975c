package testutil

import (
	"io"
	"sync"
)

// ChunkReader delivers a fixed byte stream the way a connection might:
// in reads whose sizes follow Sizes (each byte b allows a read of at most
// b+1 bytes, cycling; no sizes: whole reads), then io.EOF. Stream fuzz
// targets use it to cut packets at every possible place.
type ChunkReader struct {
	mu    sync.Mutex
	data  []byte
	sizes []byte
	off   int
	reads int
}

// NewChunkReader returns a reader of data in reads sized by sizes.
func NewChunkReader(data, sizes []byte) *ChunkReader {
	return &ChunkReader{data: data, sizes: sizes}
}

// Read returns the next chunk, or io.EOF once the stream is delivered.
func (r *ChunkReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off >= len(r.data) {
		return 0, io.EOF
	}
	n := len(r.data) - r.off
	if len(r.sizes) > 0 {
		n = min(n, int(r.sizes[r.reads%len(r.sizes)])+1)
	}
	n = copy(p, r.data[r.off:r.off+n])
	r.off += n
	r.reads++
	return n, nil
}

// Consumed is how many bytes of the stream have been read.
func (r *ChunkReader) Consumed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.off
}
