// Command go-oracle re-hashes a rampart.audit.v1 trail the way Go Rampart
// does: each line is decoded into a Go struct shaped like Rampart's audit
// Event (request as map[string]any, so numbers are float64), marshalled
// again with encoding/json and hashed as SHA-256(prev_hash + json with
// "hash":""). It prints one line per record, "<hash>\t<file>:<line>", and
// exits non-zero if any stored hash, prev_hash link, continuation header or
// the stored bytes themselves differ from what Go computes and writes.
//
// Usage: go-oracle FILE... (the files of one chain, in chain order)
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

type host struct {
	Hostname string `json:"hostname"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
}

type decision struct {
	Action          string   `json:"action"`
	MatchedPolicies []string `json:"matched_policies,omitempty"`
	EvalTimeUS      int64    `json:"evaluation_time_us"`
	Message         string   `json:"message,omitempty"`
}

type record struct {
	SchemaVersion string         `json:"schema_version,omitempty"`
	ID            string         `json:"id"`
	Timestamp     time.Time      `json:"timestamp"`
	Agent         string         `json:"agent"`
	Session       string         `json:"session"`
	Host          *host          `json:"host,omitempty"`
	Tool          string         `json:"tool"`
	Request       map[string]any `json:"request"`
	Decision      decision       `json:"decision"`
	PrevHash      string         `json:"prev_hash"`
	Hash          string         `json:"hash"`
}

type header struct {
	ChainContinue *string `json:"chain_continue"`
	PrevFile      *string `json:"prev_file"`
}

func hashOf(r record) (string, error) {
	r.Hash = ""
	data, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(append([]byte(r.PrevHash), data...))
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

func main() {
	failures := 0
	fail := func(where string, format string, args ...any) {
		failures++
		fmt.Fprintf(os.Stderr, "MISMATCH %s: %s\n", where, fmt.Sprintf(format, args...))
	}
	prev := ""
	prevFile := ""
	for _, path := range os.Args[1:] {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		reader := bufio.NewReader(bytes.NewReader(data))
		lineNum := 0
		for {
			raw, readErr := reader.ReadBytes('\n')
			if len(raw) == 0 {
				break
			}
			lineNum++
			where := fmt.Sprintf("%s:%d", path, lineNum)
			if raw[len(raw)-1] != '\n' {
				fmt.Fprintf(os.Stderr, "torn %s\n", where)
				break
			}
			line := bytes.TrimSpace(raw)
			if len(line) == 0 {
				continue
			}
			var r record
			if err := json.Unmarshal(line, &r); err != nil {
				fail(where, "decode: %v", err)
				continue
			}
			if r.ID == "" {
				var h header
				if err := json.Unmarshal(line, &h); err != nil || h.ChainContinue == nil || h.PrevFile == nil {
					fail(where, "neither a record nor a chain header")
					continue
				}
				if *h.ChainContinue != prev {
					fail(where, "chain_continue %q, chain ends at %q", *h.ChainContinue, prev)
				}
				if *h.PrevFile != prevFile {
					fail(where, "prev_file %q, previous file %q", *h.PrevFile, prevFile)
				}
				again, _ := json.Marshal(map[string]any{"chain_continue": *h.ChainContinue, "prev_file": *h.PrevFile})
				if !bytes.Equal(again, line) {
					fail(where, "header bytes differ from Go's:\n  stored %s\n  go     %s", line, again)
				}
				continue
			}
			computed, err := hashOf(r)
			if err != nil {
				fail(where, "marshal: %v", err)
				continue
			}
			fmt.Printf("%s\t%s\n", computed, where)
			if computed != r.Hash {
				fail(where, "stored hash %s, Go computes %s", r.Hash, computed)
			}
			if r.PrevHash != prev {
				fail(where, "prev_hash %q, previous hash %q", r.PrevHash, prev)
			}
			again, err := json.Marshal(r)
			if err != nil {
				fail(where, "marshal: %v", err)
			} else if !bytes.Equal(again, line) {
				fail(where, "stored bytes differ from Go's:\n  stored %s\n  go     %s", line, again)
			}
			prev = r.Hash
			if readErr != nil {
				break
			}
		}
		prevFile = filepath.Base(path)
	}
	if failures > 0 {
		fmt.Fprintf(os.Stderr, "%d mismatches\n", failures)
		os.Exit(1)
	}
}
