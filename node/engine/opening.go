package engine

import "io"

// opening is a store being opened on a goroutine of its own. The header
// store, the block store and the UTXO set are independent files and
// databases whose opening is mostly waiting: on the disk (a new pebble
// database syncs its manifest, options and log a dozen times) or, for the
// header store on a long chain, on reading it. So New opens the two
// databases on their own goroutines while it loads the headers, and waits
// for each only where it first needs it: a node starting afresh against
// btcd reached its first peer 15.6–17.0 ms after process start, against
// 19.7–24.5 ms opening them one after the other (BENCHMARKS.md). A fresh
// start waits for them later still, after its first dial (stores.go).
type opening[T io.Closer] struct {
	done chan struct{}
	v    T
	err  error
}

// startOpening runs open on a new goroutine. Whoever starts it must call
// wait or discard, so the goroutine is always waited for.
func startOpening[T io.Closer](open func() (T, error)) *opening[T] {
	o := &opening[T]{done: make(chan struct{})}
	go func() {
		defer close(o.done)
		o.v, o.err = open()
	}()
	return o
}

// wait returns what open returned, once it did.
func (o *opening[T]) wait() (T, error) {
	<-o.done
	return o.v, o.err
}

// discard waits for the opening and closes what it opened: the start
// failed elsewhere. A nil opening discards nothing.
func (o *opening[T]) discard() error {
	if o == nil {
		return nil
	}
	if v, err := o.wait(); err == nil {
		return v.Close()
	}
	// The start already failed; this store's error adds nothing to it.
	return nil
}
