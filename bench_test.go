package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Whole-process benchmarks of kubexit. They report figures; they assert no
// timing. Environment knobs (hack/bench sets them):
//
//	KUBEXIT_BENCH_BIN         kubexit binary to measure (default: the test binary as kubexit)
//	KUBEXIT_BENCH_WRITER_DIR  where the dep's tombstone is written (default: a temp dir)
//	KUBEXIT_BENCH_READER_DIR  where kubexit watches the same files (default: the writer dir)
//	KUBEXIT_BENCH_POLL        KUBEXIT_POLL_INTERVAL for kubexit (default: kubexit's default)
//	KUBEXIT_BENCH_IDLE        how long BenchmarkIdleCPU watches an idle kubexit (default 10s)

// termstampMain is the test command "termstamp FILE": it creates FILE.ready,
// waits for SIGTERM and writes the time it got it (Unix ns) into FILE.
func termstampMain() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: termstamp FILE")
		os.Exit(2)
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	if err := os.WriteFile(os.Args[1]+".ready", nil, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	<-term
	now := time.Now().UnixNano()
	if err := os.WriteFile(os.Args[1], []byte(strconv.FormatInt(now, 10)), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// kubexitEnv is this process's environment without the harness's own
// KUBEXIT_* knobs (KUBEXIT_BENCH_*, KUBEXIT_FS_*, ...), which kubexit would
// warn about as unknown: kubexit's own variables only.
func kubexitEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(name, "KUBEXIT_") || len(lookupVariables(name)) > 0 {
			env = append(env, kv)
		}
	}
	return env
}

func benchBinary(b *testing.B) string {
	if bin := os.Getenv("KUBEXIT_BENCH_BIN"); bin != "" {
		return bin
	}
	bin, err := exec.LookPath("kubexit")
	if err != nil {
		b.Fatal(err)
	}
	return bin
}

// benchDirs returns the writer and reader paths onto one graveyard.
func benchDirs(b *testing.B) (writer, reader string) {
	writer, reader = os.Getenv("KUBEXIT_BENCH_WRITER_DIR"), os.Getenv("KUBEXIT_BENCH_READER_DIR")
	if writer == "" {
		writer = b.TempDir()
	}
	if reader == "" {
		reader = writer
	}
	return writer, reader
}

func benchPoll() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("KUBEXIT_BENCH_POLL")); err == nil {
		return d
	}
	return defaultPollInterval
}

// startWatcher starts kubexit NAME with a death dep DEP and the termstamp
// child, and waits until the child is ready.
func startWatcher(b *testing.B, bin, readerDir, name, dep, stamp string, poll time.Duration) *exec.Cmd {
	cmd := exec.Command(bin, "termstamp", stamp)
	cmd.Env = append(kubexitEnv(),
		"KUBEXIT_NAME="+name,
		"KUBEXIT_GRAVEYARD="+readerDir,
		"KUBEXIT_DEATH_DEPS="+dep,
		"KUBEXIT_POLL_INTERVAL="+poll.String(),
		"KUBEXIT_LOG_LEVEL=warn",
	)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(fsStartTimeout) // the first lock on a fresh NFS server (fs_test.go)
	for !fileExists(stamp + ".ready") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			b.Fatal("child not ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cmd
}

// BenchmarkDeathReaction measures, per iteration, the time from a dep's Died
// tombstone landing (rename done) to kubexit's child receiving SIGTERM. The
// death is written at a random phase of the poll tick, as in real life.
// Reported: median, p95 and max in ms.
func BenchmarkDeathReaction(b *testing.B) { benchDeathReaction(b, "dep", false) }

// benchDeathReaction measures b.N death reactions, each of a new watcher
// on its own dep (named prefix-PID-i), and reports them. The dep's death
// lands at a random phase of the watcher's poll tick. With bornFirst, the
// dep's tombstone says Born before the watcher starts, and the watcher reads
// it a few times before the death replaces it (BenchmarkFSDeathAfterBirth);
// otherwise the tombstone appears with the death.
func benchDeathReaction(b *testing.B, prefix string, bornFirst bool) {
	bin := benchBinary(b)
	writer, reader := benchDirs(b)
	poll := benchPoll()
	tmp := b.TempDir()
	var lat []time.Duration
	for i := 0; i < b.N; i++ {
		dep := fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), i)
		born := time.Now()
		var settle time.Duration
		if bornFirst {
			if err := writeTombstone(writer, dep, tombstone{Born: &born}); err != nil {
				b.Fatal(err)
			}
			settle = 3 * poll
		}
		stamp := filepath.Join(tmp, fmt.Sprintf("stamp-%d", i))
		cmd := startWatcher(b, bin, reader, "watcher", dep, stamp, poll)
		time.Sleep(settle + time.Duration(rand.Int64N(int64(2*poll))))
		died := time.Now()
		if !bornFirst {
			born = died
		}
		lat = append(lat, deathLatency(b, cmd, writer, dep, stamp, tombstone{Born: &born, Died: &died, ExitCode: ptr(0)}))
	}
	os.Remove(filepath.Join(writer, "watcher"))
	reportLatencies(b, lat)
}

// deathLatency lands t as dep's tombstone in writer (a rename, as kubexit
// writes), waits for the watcher cmd to exit, and returns the time from the
// rename to the watcher's termstamp child getting SIGTERM.
func deathLatency(b *testing.B, cmd *exec.Cmd, writer, dep, stamp string, t tombstone) time.Duration {
	tmpFile := filepath.Join(writer, "."+dep+".bench")
	if err := os.WriteFile(tmpFile, t.marshal(), 0o644); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if err := os.Rename(tmpFile, filepath.Join(writer, dep)); err != nil {
		b.Fatal(err)
	}
	cmd.Wait()
	data, err := os.ReadFile(stamp)
	if err != nil {
		b.Fatalf("child got no TERM: %v", err)
	}
	ns, _ := strconv.ParseInt(string(data), 10, 64)
	os.Remove(filepath.Join(writer, dep))
	return time.Unix(0, ns).Sub(t0)
}

// reportLatencies reports the median, p95 and max of lat in ms (and no
// ns/op, which would only measure the benchmark's own set-up).
func reportLatencies(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[len(lat)/2]), "median-ms")
	b.ReportMetric(ms(lat[(len(lat)*95+99)/100-1]), "p95-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkIdleCPU measures the CPU an idle kubexit spends while waiting on
// a death dep that stays alive: all of its threads' on-CPU time, from
// /proc/PID/task/*/schedstat (ns), over KUBEXIT_BENCH_IDLE after a 1 s
// settling time. Reported: percent of one core, and RSS in MB.
func BenchmarkIdleCPU(b *testing.B) { benchIdleCPU(b, false) }

// BenchmarkIdleCPULocked is BenchmarkIdleCPU with the dep's life lock held
// (lock.go), as a live dep of this kubexit holds it: each poll then probes
// the lock too.
func BenchmarkIdleCPULocked(b *testing.B) { benchIdleCPU(b, true) }

func benchIdleCPU(b *testing.B, locked bool) {
	bin := benchBinary(b)
	writer, reader := benchDirs(b)
	poll := benchPoll()
	idle := 10 * time.Second
	if d, err := time.ParseDuration(os.Getenv("KUBEXIT_BENCH_IDLE")); err == nil {
		idle = d
	}
	tmp := b.TempDir()
	var pct, rss []float64
	for i := 0; i < b.N; i++ {
		dep := fmt.Sprintf("live-%d-%d", os.Getpid(), i)
		now := time.Now()
		if locked {
			fd, err := holdLifeLock(writer, dep, now)
			if err != nil {
				b.Fatal(err)
			}
			defer syscall.Close(fd)
		}
		if err := writeTombstone(writer, dep, tombstone{Born: &now}); err != nil {
			b.Fatal(err)
		}
		cmd := startWatcher(b, bin, reader, "idler", dep, filepath.Join(tmp, fmt.Sprintf("stamp-%d", i)), poll)
		time.Sleep(time.Second)
		c0, w0 := cpuNanos(b, cmd.Process.Pid), time.Now()
		time.Sleep(idle)
		c1, w1 := cpuNanos(b, cmd.Process.Pid), time.Now()
		pct = append(pct, 100*float64(c1-c0)/float64(w1.Sub(w0)))
		rss = append(rss, rssMB(b, cmd.Process.Pid))
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		os.Remove(filepath.Join(writer, dep))
	}
	os.Remove(filepath.Join(writer, "idler"))
	slices.Sort(pct)
	b.ReportMetric(pct[len(pct)/2], "cpu-%")
	b.ReportMetric(slices.Max(rss), "rss-MB")
	b.ReportMetric(0, "ns/op")
}

// cpuNanos sums the on-CPU time of every thread of pid.
func cpuNanos(b *testing.B, pid int) int64 {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		b.Fatalf("no schedstat for %d: %v", pid, err)
	}
	var sum int64
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue // thread gone
		}
		f := strings.Fields(string(data))
		n, _ := strconv.ParseInt(f[0], 10, 64)
		sum += n
	}
	return sum
}

func rssMB(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkStartup measures what it costs to start kubexit with no deps and
// a child that exits at once (`kubexit true`), against `true` alone: CPU
// (user+sys of the process and its child, from wait4's rusage) per run.
// ns/op is the wall time of one run. (No peak RSS: wait4's ru_maxrss counts
// the forking parent's memory, which the child shares until exec.)
func BenchmarkStartup(b *testing.B) {
	truePath, err := exec.LookPath("true")
	if err != nil {
		b.Fatal(err)
	}
	graveyard := b.TempDir()
	run := func(b *testing.B, argv ...string) {
		var cpu time.Duration
		for i := 0; i < b.N; i++ {
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Env = append(kubexitEnv(), "KUBEXIT_NAME=startup", "KUBEXIT_GRAVEYARD="+graveyard,
				"KUBEXIT_TERMINATION_LOG=", "KUBEXIT_LOG_LEVEL=off")
			cmd.Stderr = os.Stderr
			if err := cmd.Run(); err != nil {
				b.Fatalf("%v: %v", argv, err)
			}
			ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			cpu += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
		b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
	b.Run("true", func(b *testing.B) { run(b, truePath) })
	b.Run("kubexit", func(b *testing.B) { run(b, benchBinary(b), truePath) })
}

// BenchmarkEarlyTerm measures the window after exec in which a SIGTERM kills
// kubexit before it has subscribed to signals, so that no tombstone is
// written: TERM is sent at delays of 0 to 60 ms after the start, and
// window-ms is the smallest delay from which every TERM of the sweep was
// handled (a tombstone written). What remains of the window is the Go
// runtime's start and the linked packages' initialisation, before main.
func BenchmarkEarlyTerm(b *testing.B) {
	bin := benchBinary(b)
	var windows []float64
	for i := 0; i < b.N; i++ {
		window := 0
		for delay := 0; delay <= 60; delay += 3 {
			gy := b.TempDir()
			cmd := exec.Command(bin, "sleep", "5")
			cmd.Env = append(kubexitEnv(), "KUBEXIT_NAME=app", "KUBEXIT_GRAVEYARD="+gy, "KUBEXIT_LOG_LEVEL=off")
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			time.Sleep(time.Duration(delay) * time.Millisecond)
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			if _, err := os.Stat(filepath.Join(gy, "app")); err != nil {
				window = delay + 3
			}
		}
		windows = append(windows, float64(window))
	}
	slices.Sort(windows)
	b.ReportMetric(windows[len(windows)/2], "window-ms")
	b.ReportMetric(0, "ns/op")
}
