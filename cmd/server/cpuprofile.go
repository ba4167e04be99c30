package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startCPUProfile starts runtime/pprof's CPU profile into path and returns
// the function that stops it and closes the file, saying whether the
// profile reached the disk. It is how the figures in BENCHMARKS.md are
// explained: run the node with -cpuprofile during a download, then
// "go tool pprof bin/server FILE".
func startCPUProfile(path string) (stop func() error, err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating the profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting the profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("writing the profile: %w", err)
		}
		return nil
	}, nil
}
