// Command tlogcheck checks agritrace's checkpoints and proofs with Go's own
// implementations: golang.org/x/mod/sumdb/note (signed notes) and
// golang.org/x/mod/sumdb/tlog (RFC 6962 / RFC 9162 inclusion and consistency proofs).
//
// Usage: tlogcheck CASE.json. The case names a vkey, signed checkpoint notes, leaves with
// inclusion proofs and consistency proofs; it prints one line per check and exits 1 on
// the first that fails. tlog.ParseTree reads only Go's own checkpoint origin, so the
// C2SP checkpoint body (origin, size, base64 root) is read here.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type inclusion struct {
	Index int64    `json:"index"`
	Size  int64    `json:"size"`
	Leaf  string   `json:"leaf_b64"`
	Proof []string `json:"proof"`
}

type consistency struct {
	From  int64    `json:"from"`
	To    int64    `json:"to"`
	Proof []string `json:"proof"`
}

type testCase struct {
	Vkey        string        `json:"vkey"`
	Checkpoints []string      `json:"checkpoints"`
	Inclusion   []inclusion   `json:"inclusion"`
	Consistency []consistency `json:"consistency"`
}

func fail(format string, args ...any) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(1)
}

func hashes(list []string) []tlog.Hash {
	out := make([]tlog.Hash, 0, len(list))
	for _, s := range list {
		h, err := tlog.ParseHash(s)
		if err != nil {
			fail("hash %q: %v", s, err)
		}
		out = append(out, h)
	}
	return out
}

func main() {
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	var c testCase
	if err := json.Unmarshal(raw, &c); err != nil {
		fail("case: %v", err)
	}
	verifier, err := note.NewVerifier(c.Vkey)
	if err != nil {
		fail("vkey: %v", err)
	}
	roots := map[int64]tlog.Hash{}
	for _, text := range c.Checkpoints {
		n, err := note.Open([]byte(text), note.VerifierList(verifier))
		if err != nil {
			fail("note.Open: %v", err)
		}
		lines := strings.Split(n.Text, "\n")
		if len(lines) < 4 || lines[0] != verifier.Name() {
			fail("checkpoint body: %q", n.Text)
		}
		size, err := strconv.ParseInt(lines[1], 10, 64)
		if err != nil {
			fail("checkpoint size: %v", err)
		}
		root, err := tlog.ParseHash(lines[2])
		if err != nil {
			fail("checkpoint root: %v", err)
		}
		roots[size] = root
		fmt.Printf("ok note.Open checkpoint of %d leaves\n", size)
	}
	for _, p := range c.Inclusion {
		leaf, err := base64.StdEncoding.DecodeString(p.Leaf)
		if err != nil {
			fail("leaf: %v", err)
		}
		root, known := roots[p.Size]
		if !known {
			fail("no checkpoint of %d leaves", p.Size)
		}
		if err := tlog.CheckRecord(hashes(p.Proof), p.Size, root, p.Index, tlog.RecordHash(leaf)); err != nil {
			fail("tlog.CheckRecord leaf %d of %d: %v", p.Index, p.Size, err)
		}
		fmt.Printf("ok tlog.CheckRecord leaf %d of %d\n", p.Index, p.Size)
	}
	for _, p := range c.Consistency {
		from, okFrom := roots[p.From]
		to, okTo := roots[p.To]
		if !okFrom || !okTo {
			fail("no checkpoints of %d and %d leaves", p.From, p.To)
		}
		if err := tlog.CheckTree(hashes(p.Proof), p.To, to, p.From, from); err != nil {
			fail("tlog.CheckTree %d to %d: %v", p.From, p.To, err)
		}
		fmt.Printf("ok tlog.CheckTree %d to %d\n", p.From, p.To)
	}
}
