package pdftext

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestExtractIsolatedMatchesExtract(t *testing.T) {
	path := corpusFile(t, fourPagesFile)
	want, err := ExtractFile(context.Background(), path, Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var pages []int
	got, err := ExtractIsolated(context.Background(), path, Limits{}, func(page, total int) {
		if total != 4 {
			t.Errorf("progress total = %d, want 4", total)
		}
		pages = append(pages, page)
	})
	if err != nil {
		t.Fatalf("ExtractIsolated: %v", err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("isolated result differs (-in process +isolated):\n%s", d)
	}
	if d := cmp.Diff([]int{1, 2, 3, 4}, pages); d != "" {
		t.Errorf("progress pages (-want +got):\n%s", d)
	}
}

func TestExtractIsolatedErrorCodes(t *testing.T) {
	dir := t.TempDir()
	truncated := filepath.Join(dir, "truncated.pdf")
	data := readCorpus(t, simpleFile)
	if err := os.WriteFile(truncated, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		path string
		lim  Limits
		want string
	}{
		{"encrypted", corpusFile(t, encryptedFile), Limits{}, CodeEncrypted},
		{"no text", corpusFile(t, imageOnlyFile), Limits{}, CodeNoText},
		{"truncated", truncated, Limits{}, CodeInvalid},
		{"too many pages", corpusFile(t, fourPagesFile), Limits{MaxPages: 2}, CodeTooLarge},
		{"too many bytes", corpusFile(t, fourPagesFile), Limits{MaxBytes: 100}, CodeTooLarge},
		{"out of memory", corpusFile(t, bookFile), Limits{MaxMemory: 1 << 20}, CodeTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ExtractIsolated(context.Background(), c.path, c.lim, nil)
			t.Logf("err: %v", err)
			if got := Code(err); got != c.want {
				t.Fatalf("Code = %q (err %v), want %q", got, err, c.want)
			}
		})
	}
}

func TestExtractIsolatedMissingFile(t *testing.T) {
	_, err := ExtractIsolated(context.Background(), filepath.Join(t.TempDir(), "none.pdf"), Limits{}, nil)
	if err == nil || Code(err) != "" || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("err = %v (code %q), want a not-exist error without a code", err, Code(err))
	}
}

// unwrapAll returns the innermost error of a chain.
func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

func TestExtractIsolatedRefusesToNest(t *testing.T) {
	t.Setenv(childEnv, "1")
	_, err := ExtractIsolated(context.Background(), corpusFile(t, simpleFile), Limits{}, nil)
	if err == nil || !strings.Contains(err.Error(), ChildArg) {
		t.Fatalf("err = %v, want a refusal naming %s", err, ChildArg)
	}
}

func TestExtractIsolatedTimeoutKillsTheChild(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("finds the child through /proc")
	}
	path := corpusFile(t, bookFile)
	seen := watchChildren(t)
	start := time.Now()
	_, err := ExtractIsolated(context.Background(), path, Limits{Timeout: 150 * time.Millisecond}, nil)
	elapsed := time.Since(start)
	pids := seen()
	if Code(err) != CodeTimeout {
		t.Fatalf("Code = %q (err %v), want %q", Code(err), err, CodeTimeout)
	}
	if elapsed > 150*time.Millisecond+killGrace+time.Second {
		t.Errorf("returned after %s, long after the timeout", elapsed)
	}
	if len(pids) == 0 {
		t.Fatal("never saw the child process while it ran")
	}
	for _, pid := range pids {
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
			t.Errorf("child %d is still there after ExtractIsolated returned", pid)
		}
	}
}

// watchChildren polls /proc for extraction children of this process until
// the returned function is called, which returns the pids it saw.
func watchChildren(t *testing.T) func() []int {
	t.Helper()
	var (
		mu   sync.Mutex
		seen = map[int]bool{}
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			for _, pid := range childPIDs() {
				mu.Lock()
				seen[pid] = true
				mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() []int {
		close(done)
		wg.Wait()
		var out []int
		for pid := range seen {
			out = append(out, pid)
		}
		return out
	}
}

// childPIDs lists the processes whose parent is this process and whose
// command line holds ChildArg.
func childPIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the parenthesised command name: state, ppid, ...
		i := bytes.LastIndexByte(stat, ')')
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if bytes.Contains(cmdline, []byte(ChildArg)) {
			out = append(out, pid)
		}
	}
	return out
}

func TestChildMainBadArguments(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"no path", nil},
		{"two paths", []string{"a.pdf", "b.pdf"}},
		{"bad limits", []string{"-limits", "{not json", "a.pdf"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			if code := ChildMain(c.args, &out); code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			if out.Len() != 0 {
				t.Errorf("wrote to stdout: %q", out.String())
			}
		})
	}
}
