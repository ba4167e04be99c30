package utxo

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
)

// TestScriptArena: scripts come back as put, whatever their size; an
// append to one cannot write over the next; the arena counts its blocks;
// and a script handed out stays intact after a reset and new puts.
func TestScriptArena(t *testing.T) {
	var a scriptArena
	var refs []scriptRef
	var want [][]byte
	for i := range 3000 {
		n := i % 700
		if i%500 == 7 {
			n = arenaBlockSize/4 + i // a block of its own
		}
		s := bytes.Repeat([]byte{byte(i), byte(i >> 8)}, n/2+1)[:n]
		refs = append(refs, a.put(s))
		want = append(want, s)
	}
	for i, r := range refs {
		got := a.get(r)
		if !bytes.Equal(got, want[i]) {
			t.Fatalf("script %d: %d bytes back, want %d", i, len(got), len(want[i]))
		}
		if len(want[i]) == 0 && got != nil {
			t.Fatalf("script %d: an empty script came back as %v, want nil", i, got)
		}
	}
	first := a.get(refs[1])
	_ = append(first, 0xee, 0xee)
	if !bytes.Equal(a.get(refs[2]), want[2]) {
		t.Fatal("an append to one script wrote over the next")
	}
	var sum int64
	for _, b := range a.blocks {
		sum += int64(cap(b))
	}
	if a.bytes != sum {
		t.Errorf("arena counts %d bytes, its blocks hold %d", a.bytes, sum)
	}
	held := a.get(refs[699])
	a.reset()
	if a.bytes != 0 || len(a.blocks) != 0 {
		t.Fatalf("after reset: %d bytes, %d blocks", a.bytes, len(a.blocks))
	}
	for range 5000 {
		a.put(bytes.Repeat([]byte{0xab}, 600))
	}
	if !bytes.Equal(held, want[699]) {
		t.Error("a script handed out before the reset changed after it")
	}
}

// TestCacheHoldsNoPointers: the cache's keys and entries hold no pointer,
// so the garbage collector does not scan the cache (the reason for the
// arena). A field with a pointer added to entry fails here.
func TestCacheHoldsNoPointers(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[wire.OutPoint](), reflect.TypeFor[entry]()} {
		if path, ok := pointerIn(typ, typ.Name()); ok {
			t.Errorf("%s holds a pointer at %s", typ, path)
		}
	}
}

// pointerIn finds a pointer-holding part of typ, naming its path.
func pointerIn(typ reflect.Type, path string) (string, bool) {
	switch typ.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.String, reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return path, true
	case reflect.Array:
		return pointerIn(typ.Elem(), path+"[]")
	case reflect.Struct:
		for i := range typ.NumField() {
			f := typ.Field(i)
			if p, ok := pointerIn(f.Type, path+"."+f.Name); ok {
				return p, true
			}
		}
	}
	return "", false
}
