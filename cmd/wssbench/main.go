// Command wssbench is a load and performance harness for WebSocket over TLS.
package main

import (
	"os"

	"github.com/wssbench/wssbench/cmd/wssbench/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
