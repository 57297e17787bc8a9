// Command batch is a batch job used as a tracing target: it reads a text file, counts its words
// and writes the counts as JSON to a result file, then exits.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	in := flag.String("in", "", "input text file")
	out := flag.String("out", "", "output JSON file")
	flag.Parse()
	if *in == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: batch -in FILE -out FILE")
		os.Exit(2)
	}
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "batch:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()

	counts := map[string]int{}
	total := 0
	sc := bufio.NewScanner(f)
	sc.Split(bufio.ScanWords)
	for sc.Scan() {
		counts[strings.ToLower(sc.Text())]++
		total++
	}
	if err := sc.Err(); err != nil {
		return err
	}

	data, err := json.MarshalIndent(struct {
		Input string         `json:"input"`
		Total int            `json:"total"`
		Words map[string]int `json:"words"`
	}{filepath.Base(in), total, counts}, "", "  ")
	if err != nil {
		return err
	}
	// Write to a temporary file and rename it, so a reader never sees a half-written result.
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}
