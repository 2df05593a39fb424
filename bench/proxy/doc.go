// Package proxy holds the TLS-terminating proxies wssbench can put in front of
// a ws:// backend, in two packages: builtin (the built-in relay) and external
// (nginx and haproxy started from generated configs).
package proxy
