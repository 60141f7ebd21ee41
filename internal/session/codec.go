package session

import (
	"encoding/binary"
	"errors"
	"slices"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Codec is the session payload's format (an scs.Codec). A payload starts with
// a version byte. Version 1 holds the deadline, the number of keys, and each
// key with a typed value: the keys this package writes are one byte each, any other key is
// spelled out, and a value is an int64, a bool or a string. A session holding
// a value of any other type is written as scs's gob instead, and a payload
// that does not start with a known version byte is decoded as gob: every
// session written before this format (scs.GobCodec) stays readable, so a
// rolling deploy signs no one out. With WriteGob set, Encode writes gob
// too, for processes of older releases that cannot read version 1.
type Codec struct {
	// WriteGob makes Encode write scs's gob format (SESSION_CODEC=gob).
	WriteGob bool
}

// codecV1 is the version byte of the compact format. A gob stream never
// starts with it: its first byte is the length of a message that describes
// a type, which is always longer than one byte.
const codecV1 = 0x01

// knownKeys are the keys with a one-byte code, the code being the index + 1;
// append only, never reorder (stored payloads refer to them by position).
func knownKeys() [11]string {
	return [...]string{
		keyUserID, keyDealID, keyDealGone, keyCreatedAt, keySeenAt,
		keyIP, keyUserAgent, keyRemember, keyRemembered, keyRestored,
		keyChecked,
	}
}

// Value type tags.
const (
	tagInt64 = 'i'
	tagTrue  = 't'
	tagFalse = 'f'
	tagStr   = 's'
)

var errPayload = errors.New("session: malformed payload")

func knownCode(key string) byte {
	for i, k := range knownKeys() {
		if k == key {
			return byte(i + 1)
		}
	}
	return 0
}

// Encode writes values in the compact format, or as gob when a value is of a
// type the compact format does not hold.
func (c Codec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	if c.WriteGob {
		return scs.GobCodec{}.Encode(deadline, values)
	}
	var keysBuf [16]string
	keys := keysBuf[:0]
	size := 1 + 2*binary.MaxVarintLen64
	for k, v := range values {
		switch v := v.(type) {
		case int64, bool:
			size += len(k) + 2 + binary.MaxVarintLen64
		case string:
			size += len(k) + len(v) + 2 + 2*binary.MaxVarintLen64
		default:
			return scs.GobCodec{}.Encode(deadline, values)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := make([]byte, 0, size)
	b = append(b, codecV1)
	b = binary.AppendVarint(b, deadline.Unix())
	b = binary.AppendUvarint(b, uint64(deadline.Nanosecond()))
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		if c := knownCode(k); c != 0 {
			b = append(b, c)
		} else {
			b = append(b, 0)
			b = binary.AppendUvarint(b, uint64(len(k)))
			b = append(b, k...)
		}
		switch v := values[k].(type) {
		case int64:
			b = append(b, tagInt64)
			b = binary.AppendVarint(b, v)
		case bool:
			if v {
				b = append(b, tagTrue)
			} else {
				b = append(b, tagFalse)
			}
		case string:
			b = append(b, tagStr)
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	return b, nil
}

// Decode reads a payload in either format; anything else is an error.
func (Codec) Decode(b []byte) (time.Time, map[string]any, error) {
	if len(b) == 0 || b[0] != codecV1 {
		return scs.GobCodec{}.Decode(b)
	}
	d := decoder{b: b[1:]}
	sec := d.varint()
	nsec := d.uvarint()
	n := d.uvarint()
	// Each entry takes at least two bytes.
	if d.err != nil || nsec >= uint64(time.Second) || n > uint64(len(d.b)/2) {
		return time.Time{}, nil, errPayload
	}
	deadline := time.Unix(sec, int64(nsec))
	values := make(map[string]any, n)
	known := knownKeys()
	for ; n > 0 && d.err == nil; n-- {
		var k string
		c := d.byte()
		switch {
		case c == 0:
			k = d.str()
		case int(c) <= len(known):
			k = known[c-1]
		default:
			d.fail()
		}
		if d.err != nil {
			break
		}
		if _, dup := values[k]; dup {
			d.fail()
			break
		}
		switch d.byte() {
		case tagInt64:
			values[k] = d.varint()
		case tagTrue:
			values[k] = true
		case tagFalse:
			values[k] = false
		case tagStr:
			values[k] = d.str()
		default:
			d.fail()
		}
	}
	if d.err != nil || len(d.b) > 0 {
		return time.Time{}, nil, errPayload
	}
	return deadline, values, nil
}

// decoder reads a compact payload; the first failure sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errPayload
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
