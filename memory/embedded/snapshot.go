package embedded

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/genesis-sci/genesis/memory"
)

// A snapshot is the whole store in one binary file, little-endian:
//
//	magic "GMEMSNP1"
//	seq uint64, dim uint32, embedder (uint32 length, bytes), count uint64
//	count × { record JSON without its vector (uint32 length, bytes),
//	          dim × float32 unit vector }
//	CRC-32C of everything above, uint32
//
// seq numbers the snapshots of a store; the log's header names the one it
// continues. Records keep their slot order, so a reopened store searches
// and breaks ties exactly as before.
const snapMagic = "GMEMSNP1"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// snapshot is a snapshot's content.
type snapshot struct {
	seq      uint64
	embedder string
	slab     *slab
	size     int64 // bytes
}

// writeSnapshot writes s as snapshot seq of the store in dir, atomically:
// into a temporary file, fsynced, then renamed over the previous snapshot
// (the caller fsyncs the directory). It returns the snapshot's size. On an
// error the previous snapshot is still in place.
func writeSnapshot(dir string, seq uint64, embedder string, s *slab) (size int64, err error) {
	tmp := filepath.Join(dir, snapName+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	crc := crc32.New(castagnoli)
	w := bufio.NewWriterSize(io.MultiWriter(f, crc), 1<<20)
	b := []byte(snapMagic)
	b = binary.LittleEndian.AppendUint64(b, seq)
	b = binary.LittleEndian.AppendUint32(b, uint32(s.dim))
	b = appendBytes(b, []byte(embedder))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s.recs)))
	for i, r := range s.recs {
		meta, err := json.Marshal(r)
		if err != nil {
			return 0, err
		}
		b = appendBytes(b, meta)
		if b, err = binary.Append(b, binary.LittleEndian, s.vector(i)); err != nil {
			return 0, err
		}
		if _, err := w.Write(b); err != nil {
			return 0, err
		}
		b = b[:0]
	}
	if _, err := w.Write(b); err != nil {
		return 0, err
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	if _, err := f.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32())); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return fi.Size(), os.Rename(tmp, filepath.Join(dir, snapName))
}

func appendBytes(b, p []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(b, uint32(len(p))), p...)
}

// readSnapshot loads the snapshot at path; nil if there is none. It
// streams the file, checking the checksum at the end.
func readSnapshot(path string) (*snapshot, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	corrupt := func(why string) error { return fmt.Errorf("memory snapshot %s is corrupt (%s)", path, why) }
	size := fi.Size() - 4 // without the checksum
	if size < int64(len(snapMagic)) {
		return nil, corrupt("too short")
	}
	crc := crc32.New(castagnoli)
	d := decoder{r: bufio.NewReaderSize(io.TeeReader(io.LimitReader(f, size), crc), 1<<20), left: size}
	if string(d.next(len(snapMagic))) != snapMagic {
		return nil, corrupt("not a memory snapshot")
	}
	sn := &snapshot{seq: d.uint64(), size: fi.Size()}
	dim := int(d.uint32())
	sn.embedder = string(d.bytes())
	n := d.uint64()
	if d.err != nil || dim < 1 || n > uint64(size)/uint64(4*dim) {
		return nil, corrupt("bad header")
	}
	sn.slab = newSlab(dim)
	sn.slab.reserve(int(n))
	v := make([]float32, dim)
	for range n {
		var r memory.Record
		if meta := d.bytes(); d.err != nil || json.Unmarshal(meta, &r) != nil {
			return nil, corrupt("bad record")
		}
		if _, err := binary.Decode(d.next(4*dim), binary.LittleEndian, v); err != nil || d.err != nil {
			return nil, corrupt("short vector")
		}
		sn.slab.put(&r, v)
	}
	if d.left != 0 {
		return nil, corrupt("trailing bytes")
	}
	sum := make([]byte, 4)
	if _, err := f.ReadAt(sum, size); err != nil {
		return nil, err
	}
	if crc.Sum32() != binary.LittleEndian.Uint32(sum) {
		return nil, corrupt("checksum mismatch")
	}
	return sn, nil
}

// decoder reads the fields of a snapshot; past the end or on an error it
// records the error and yields zeros.
type decoder struct {
	r    *bufio.Reader
	left int64 // bytes left to read
	buf  []byte
	err  error
}

// next returns the next n bytes, valid until the next call.
func (d *decoder) next(n int) []byte {
	if d.err == nil && int64(n) > d.left {
		d.err = io.ErrUnexpectedEOF
	}
	if d.err != nil {
		return make([]byte, min(n, 8))
	}
	d.left -= int64(n)
	if cap(d.buf) < n {
		d.buf = make([]byte, n)
	}
	d.buf = d.buf[:n]
	if _, err := io.ReadFull(d.r, d.buf); err != nil {
		d.err = err
		return make([]byte, min(n, 8))
	}
	return d.buf
}

func (d *decoder) uint32() uint32 { return binary.LittleEndian.Uint32(d.next(4)) }
func (d *decoder) uint64() uint64 { return binary.LittleEndian.Uint64(d.next(8)) }
func (d *decoder) bytes() []byte  { return d.next(int(d.uint32())) }

// syncDir fsyncs a directory, making a rename in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
