// Package web serves the node to people and programs: the JSON API under
// /api/ now, the dashboard later. It only reads the engine's published
// snapshots and calls its thread-safe methods, so nothing a client does can
// block the engine.
package web
