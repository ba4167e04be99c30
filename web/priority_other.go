//go:build !linux

package web

// lowerThreadPriority does nothing where a thread's priority cannot be set
// apart from its process's: the web workers keep the node's priority there,
// bounded by their count and their rest (limit) only.
func lowerThreadPriority() {}
