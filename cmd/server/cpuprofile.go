package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startCPUProfile starts runtime/pprof's CPU profile into path and returns
// the function that stops it and closes the file. It is how the figures in
// BENCHMARKS.md are explained: run the node with -cpuprofile during a
// download, then "go tool pprof bin/server FILE".
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating the profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting the profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
