// gocheck verifies detente's output with Go's golang.org/x/mod/sumdb/note and sumdb/tlog:
// code no one on the detente project wrote. Exit 0 and print "ok ..." when everything verifies;
// exit 1 with the reason otherwise.
//
//	gocheck checkpoint VKEY CHECKPOINT
//	gocheck tlogproof VKEY PROOF ENTRY
//	gocheck consistency VKEY OLD_CHECKPOINT NEW_CHECKPOINT PROOF_LINES
//	gocheck tiles VKEY DIR
package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

func fail(err error) {
	fmt.Println("refused:", err)
	os.Exit(1)
}

func openCheckpoint(vkey string, data []byte) checkpoint {
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		fail(err)
	}
	n, err := note.Open(data, note.VerifierList(verifier))
	if err != nil {
		fail(err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != verifier.Name() {
		fail(errors.New("malformed checkpoint body"))
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail(err)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		fail(errors.New("malformed root hash"))
	}
	var h tlog.Hash
	copy(h[:], root)
	return checkpoint{lines[0], size, h}
}

func readFile(path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	return data
}

func parseHashes(lines []string) []tlog.Hash {
	var out []tlog.Hash
	for _, line := range lines {
		if line == "" {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(raw) != tlog.HashSize {
			fail(fmt.Errorf("bad proof hash %q", line))
		}
		var h tlog.Hash
		copy(h[:], raw)
		out = append(out, h)
	}
	return out
}

func checkTlogProof(vkey, proofPath, entryPath string) {
	text := string(readFile(proofPath))
	head, cp, found := strings.Cut(text, "\n\n")
	if !found {
		fail(errors.New("no checkpoint in proof"))
	}
	lines := strings.Split(head, "\n")
	if lines[0] != "c2sp.org/tlog-proof@v1" {
		fail(errors.New("not a tlog-proof@v1"))
	}
	lines = lines[1:]
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		lines = lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		fail(errors.New("no index line"))
	}
	index, err := strconv.ParseInt(strings.TrimPrefix(lines[0], "index "), 10, 64)
	if err != nil {
		fail(err)
	}
	c := openCheckpoint(vkey, []byte(cp))
	proof := tlog.RecordProof(parseHashes(lines[1:]))
	if err := tlog.CheckRecord(proof, c.size, c.root, index, tlog.RecordHash(readFile(entryPath))); err != nil {
		fail(err)
	}
	fmt.Printf("ok entry %d in tree %d\n", index, c.size)
}

func checkConsistency(vkey, oldPath, newPath, proofPath string) {
	old := openCheckpoint(vkey, readFile(oldPath))
	cur := openCheckpoint(vkey, readFile(newPath))
	proof := tlog.TreeProof(parseHashes(strings.Split(string(readFile(proofPath)), "\n")))
	if err := tlog.CheckTree(proof, cur.size, cur.root, old.size, old.root); err != nil {
		fail(err)
	}
	fmt.Printf("ok %d -> %d\n", old.size, cur.size)
}

// dirTiles reads C2SP tiles from a folder: sumdb's tile paths without the "/8" height element.
type dirTiles struct{ dir string }

func (d dirTiles) Height() int { return 8 }

func (d dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		path := strings.Replace(t.Path(), "tile/8/", "tile/", 1)
		data, err := os.ReadFile(d.dir + "/" + path)
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (d dirTiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

func entryBundle(dir string, size, index int64) [][]byte {
	t := tlog.Tile{H: 8, L: -1, N: index / 256, W: int(min64(256, size-index/256*256))}
	path := strings.Replace(t.Path(), "tile/8/data/", "tile/entries/", 1)
	data := readFile(dir + "/" + path)
	var entries [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			fail(errors.New("truncated entry bundle"))
		}
		n := int(data[0])<<8 | int(data[1])
		if len(data) < 2+n {
			fail(errors.New("truncated entry"))
		}
		entries = append(entries, data[2:2+n])
		data = data[2+n:]
	}
	return entries
}

func min64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

func checkTiles(vkey, dir string) {
	c := openCheckpoint(vkey, readFile(dir+"/checkpoint"))
	tree := tlog.Tree{N: c.size, Hash: c.root}
	reader := tlog.TileHashReader(tree, dirTiles{dir})
	for index := int64(0); index < c.size; index++ {
		proof, err := tlog.ProveRecord(c.size, index, reader)
		if err != nil {
			fail(err)
		}
		entries := entryBundle(dir, c.size, index)
		leaf := tlog.RecordHash(entries[index%256])
		if err := tlog.CheckRecord(proof, c.size, c.root, index, leaf); err != nil {
			fail(err)
		}
	}
	for old := int64(1); old < c.size; old = old*3 + 1 {
		if _, err := tlog.ProveTree(c.size, old, reader); err != nil {
			fail(err)
		}
	}
	got, err := tlog.TreeHash(c.size, reader)
	if err != nil || !bytes.Equal(got[:], c.root[:]) {
		fail(errors.New("tiles do not hash to the checkpoint root"))
	}
	fmt.Printf("ok %d entries and their tiles\n", c.size)
}

func main() {
	args := os.Args[1:]
	switch {
	case len(args) == 3 && args[0] == "checkpoint":
		c := openCheckpoint(args[1], readFile(args[2]))
		fmt.Printf("ok %s %d\n", c.origin, c.size)
	case len(args) == 4 && args[0] == "tlogproof":
		checkTlogProof(args[1], args[2], args[3])
	case len(args) == 5 && args[0] == "consistency":
		checkConsistency(args[1], args[2], args[3], args[4])
	case len(args) == 3 && args[0] == "tiles":
		checkTiles(args[1], args[2])
	default:
		fmt.Println("usage: see the comment at the top of gocheck.go")
		os.Exit(2)
	}
}
