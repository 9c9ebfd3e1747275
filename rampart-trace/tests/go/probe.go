// A Go program (static, raw syscalls, many threads): reads a file, writes
// one, runs a command and dials a TCP address, as given on the command line:
// probe DIR HOST:PORT
package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
)

func main() {
	dir, addr := os.Args[1], os.Args[2]
	if _, err := os.ReadFile("/etc/hostname"); err != nil {
		os.Exit(2)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.txt"), []byte("go"), 0o644); err != nil {
		os.Exit(3)
	}
	if err := exec.Command("/bin/true", "from-go").Run(); err != nil {
		os.Exit(4)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		os.Exit(5)
	}
	conn.Close()
}
