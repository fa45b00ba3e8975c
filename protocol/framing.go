package protocol

import (
	"bufio"
	"fmt"
	"io"
)

// DefaultMaxPacket bounds the length a reader accepts by default. CTDB has no
// limit; ours keeps an absurd length from exhausting memory. Record buffers
// are bounded by RecBufferSizeLimit (1 MB) and Samba's transactions are far
// smaller than this.
const DefaultMaxPacket = 256 << 20

// PacketReader frames a byte stream into packets using the length field of
// each header.
type PacketReader struct {
	r *bufio.Reader
	// Max is the largest length accepted; 0 means DefaultMaxPacket.
	Max int
	// Aligned requires every length to be a multiple of 8, as node links do.
	Aligned bool
}

// NewPacketReader returns a reader over r with a buffer of size bytes.
func NewPacketReader(r io.Reader, size int) *PacketReader {
	return &PacketReader{r: bufio.NewReaderSize(r, size)}
}

// chunk is how much a reader allocates ahead of the bytes actually arriving,
// so that a large claimed length costs memory only as data comes in.
const chunk = 1 << 20

// Next returns the next packet, length bytes including the header, in a
// buffer owned by the caller. It returns io.EOF at a clean end of stream and
// io.ErrUnexpectedEOF when the stream ends inside a packet. A packet with a
// bad length, magic or version is an error: the stream cannot be resynced
// and the caller should close it.
func (pr *PacketReader) Next() ([]byte, error) {
	var hdr [HeaderSize]byte
	if _, err := io.ReadFull(pr.r, hdr[:4]); err != nil {
		return nil, err
	}
	length := int(le.Uint32(hdr[:4]))
	max := pr.Max
	if max <= 0 {
		max = DefaultMaxPacket
	}
	if length < HeaderSize || length > max {
		return nil, fmt.Errorf("packet length %d outside [%d, %d]: %w", length, HeaderSize, max, ErrBadLength)
	}
	if pr.Aligned && length%Alignment != 0 {
		return nil, fmt.Errorf("packet length %d not a multiple of %d: %w", length, Alignment, ErrBadLength)
	}
	if _, err := io.ReadFull(pr.r, hdr[4:]); err != nil {
		return nil, unexpected(err)
	}
	if _, err := DecodeHeader(hdr[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, HeaderSize, min(length, chunk))
	copy(buf, hdr[:])
	for len(buf) < length {
		n := min(length-len(buf), chunk)
		buf = append(buf, make([]byte, n)...)
		if _, err := io.ReadFull(pr.r, buf[len(buf)-n:]); err != nil {
			return nil, unexpected(err)
		}
	}
	return buf, nil
}

// Buffered reports how many bytes are already read from the stream but not
// yet returned, so a caller can tell whether another packet may be waiting.
func (pr *PacketReader) Buffered() int { return pr.r.Buffered() }

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
